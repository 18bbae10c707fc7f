import CamProtocol

/// The whole agent as a pure state machine: the endpoint session, the
/// streampoint failover, the tunnels in setup, the endpoint's commands and the
/// reports. Every method takes the time and returns actions for the runtime;
/// nothing here performs I/O. Its sub-machines (EndpointSession,
/// StreampointFailover, TunnelTable) answer in one shape, `Output<Event>`:
/// their actions pass through, their events are acted on here (`apply`).
public struct AgentCore<Entropy: EntropySource> {
    public let config: AgentConfig
    private var entropy: Entropy
    private var endpoint: EndpointSession
    private var streampoints: StreampointFailover
    private var tunnels: TunnelTable
    /// The counters of the control links; the tunnel table keeps its own.
    private var linkStats = AgentStats()
    private var startedAt: Int64 = 0
    private var lastChangeAt: Int64 = 0
    private var lastEndpoint: ServerAddress?
    private var lastStreampointID = ""
    private var nextReportAt: Int64?

    /// `state` is what the state file held at start (identity, pushed endpoints).
    public init(config: AgentConfig, state: AgentState = AgentState(), entropy: Entropy) {
        self.config = config
        self.entropy = entropy
        endpoint = EndpointSession(config: config, identity: config.identity, state: state)
        streampoints = StreampointFailover(config: config)
        tunnels = TunnelTable(config: config)
    }

    /// `identity`: one activation issued earlier (as if read from the state file).
    public init(config: AgentConfig, identity: AgentIdentity?, entropy: Entropy) {
        self.init(config: config, state: AgentState(identity: identity), entropy: entropy)
    }

    public var isEndpointUp: Bool { endpoint.link.isUp }
    public var identity: AgentIdentity? { endpoint.identity }
    public var isStreampointUp: Bool { streampoints.activeSession.link.isUp }
    public var currentStreampointID: String { streampoints.currentID }
    public var isSwitchingStreampoint: Bool { streampoints.incoming != nil }
    public var currentEndpoint: ServerAddress { endpoint.currentEndpoint }
    public var endpointList: [ServerAddress] { endpoint.endpoints }
    public var state: AgentState { endpoint.state }
    public var tunnelsInSetup: Int { tunnels.inSetup }
    public var tunnelCount: Int { tunnels.count }
    public var stats: AgentStats { linkStats + tunnels.stats }

    /// `uptimeMs`: how long the system has been up (nil: unknown). Under
    /// Tunables.coldBootUptimeMs this is a cold boot (a power cut just ended,
    /// likely for a whole street), and the first dial waits its place in
    /// `boot_jitter_ms`; a process restart dials at once.
    public mutating func start(now: Int64, uptimeMs: Int64? = nil) -> [AgentAction] {
        startedAt = now
        lastChangeAt = now
        let who = endpoint.identity.map { "agent \($0.agentID)" } ?? "unit \(config.factory?.serial ?? "?") (not activated)"
        var actions: [AgentAction] = [.log(.info, "\(who) starting (\(AgentVersion.software), \(BuildInfo.target))")]
        if config.allowPlaintext {
            actions.append(.log(.warn, "allow_plaintext = yes: plain-TCP servers are accepted and those links are NOT encrypted (lab use only)"))
        }
        if endpoint.endpointsWerePushed {
            actions.append(.log(.info, "endpoint list from the state file: " + ServerAddress.displayList(endpoint.endpoints)))
        }
        if let uptimeMs, uptimeMs >= 0, uptimeMs < Tunables.coldBootUptimeMs, config.bootJitterMs > 0 {
            let delay = Backoff.spread(deviceSeed: config.deviceSeed, windowMs: config.bootJitterMs, entropy: &entropy)
            endpoint.holdFirstDial(until: now + delay)
            actions.append(.log(.info, "cold boot: first dial in \(formatMillis(delay))"))
        }
        actions += apply(endpoint.dialIfDue(now: now), now: now)
        return actions
    }

    /// The earliest time `tick` has work to do, or nil when only I/O can wake us.
    public var nextDeadline: Int64? {
        var earliest = endpoint.nextDeadline
        func consider(_ time: Int64?) {
            guard let time else { return }
            earliest = earliest.map { $0 < time ? $0 : time } ?? time
        }
        consider(streampoints.nextDeadline)
        if endpoint.link.isUp { consider(nextReportAt) }
        consider(tunnels.nextDeadline)
        return earliest
    }

    public mutating func tick(now: Int64) -> [AgentAction] {
        var actions = apply(endpoint.tick(now: now, entropy: &entropy), now: now)
        actions += apply(streampoints.tick(now: now, entropy: &entropy), now: now)
        actions += apply(tunnels.tick(now: now), now: now)
        if endpoint.link.isUp, let due = nextReportAt, now >= due {
            actions += report(.periodic, now: now)
        }
        return actions
    }

    public mutating func connected(_ link: LinkID, now: Int64, addresses: SocketAddresses? = nil) -> [AgentAction] {
        switch link {
        case .endpoint:
            return apply(endpoint.connected(now: now, addresses: addresses), now: now)
        case .endpointProbe:
            return apply(endpoint.probeConnected(now: now), now: now)
        case .streampoint(let slot):
            return apply(streampoints.connected(slot, now: now, addresses: addresses), now: now)
        case .tunnelTarget(let id):
            return apply(tunnels.targetConnected(id, now: now), now: now)
        case .tunnelData(let id):
            return apply(tunnels.dataConnected(id, now: now), now: now)
        }
    }

    public mutating func connectFailed(_ link: LinkID, reason: String, now: Int64) -> [AgentAction] {
        let why = "connect failed: \(reason)"
        switch link {
        case .endpoint, .streampoint:
            linkStats.controlConnectFailures += 1
        case .tunnelTarget(let id):
            return apply(tunnels.targetConnectFailed(id, reason: why, now: now), now: now)
        default:
            break
        }
        return closed(link, reason: why, now: now)
    }

    /// The runtime saw the socket close or fail (not after a `.close` we asked for).
    public mutating func closed(_ link: LinkID, reason: String, now: Int64) -> [AgentAction] {
        switch link {
        case .endpoint:
            return apply(endpoint.fail(reason, now: now, entropy: &entropy, closeSocket: false), now: now)
        case .endpointProbe:
            return apply(endpoint.probeFailed(reason, now: now), now: now)
        case .streampoint(let slot):
            return apply(streampoints.fail(slot, reason, now: now, entropy: &entropy, closeSocket: false), now: now)
        case .tunnelTarget(let id):
            return apply(tunnels.targetClosed(id, reason: reason, now: now), now: now)
        case .tunnelData(let id):
            return apply(tunnels.dataClosed(id, reason: reason, now: now), now: now)
        }
    }

    public mutating func received(_ link: LinkID, bytes: [UInt8], now: Int64) -> [AgentAction] {
        switch link {
        case .endpoint:
            let hadIdentity = endpoint.identity != nil
            var actions: [AgentAction] = []
            // One input at a time: an order (a disconnect, a reset) takes
            // effect before the next message of the same read is looked at.
            for input in endpoint.feed(bytes, now: now) {
                actions += apply(endpoint.take(input, now: now, entropy: &entropy), now: now)
                if endpoint.link.isDown { break }
            }
            if !hadIdentity && endpoint.identity != nil { actions.append(.storeState(endpoint.state)) }
            return actions
        case .endpointProbe:
            return apply(endpoint.probeReceived(bytes, now: now), now: now)
        case .streampoint(let slot):
            return apply(streampoints.received(slot, bytes: bytes, now: now, entropy: &entropy), now: now)
        case .tunnelData(let id):
            return apply(tunnels.dataReceived(id, bytes: bytes, now: now), now: now)
        case .tunnelTarget:
            return []  // the runtime reads target sockets only while splicing
        }
    }

    /// The runtime finished moving a tunnel's bytes and closed both sockets.
    public mutating func tunnelFinished(_ id: UInt32, bytesToStreampoint: UInt64, bytesFromStreampoint: UInt64,
                                        reason: String, now: Int64) -> [AgentAction] {
        apply(tunnels.finished(id, bytesToStreampoint: bytesToStreampoint, bytesFromStreampoint: bytesFromStreampoint,
                               reason: reason, now: now), now: now)
    }

    // MARK: - The sub-machines' events

    /// Passes a sub-machine's actions on and acts on its events, in order.
    private mutating func apply(_ out: Output<EndpointEvent>, now: Int64) -> [AgentAction] {
        var actions = out.actions
        for event in out.events { actions += handle(event, now: now) }
        return actions
    }

    private mutating func apply(_ out: Output<StreampointEvent>, now: Int64) -> [AgentAction] {
        var actions = out.actions
        for event in out.events { actions += handle(event, now: now) }
        return actions
    }

    private mutating func apply(_ out: Output<TunnelEvent>, now: Int64) -> [AgentAction] {
        var actions = out.actions
        for event in out.events {
            switch event {
            case .openFailed(let slot, let id, let code, let reason):
                let message = Message.tunnelOpenFailed(tunnelID: id, code: code, message: reason)
                actions += apply(streampoints.send(message, on: slot, now: now), now: now)
            }
        }
        return actions
    }

    // MARK: - The endpoint's orders

    private mutating func handle(_ event: EndpointEvent, now: Int64) -> [AgentAction] {
        switch event {
        case .protocolError:
            linkStats.protocolErrors += 1
            return []
        case .authenticated:
            streampoints.adoptTimers(heartbeatMs: endpoint.heartbeatMs, peerTimeoutMs: endpoint.peerTimeoutMs)
            let current = endpoint.currentEndpoint
            if let lastEndpoint, lastEndpoint != current {
                linkStats.endpointChanges += 1
                lastChangeAt = now
            }
            lastEndpoint = current
            let store: [AgentAction] = endpoint.adoptReachedAddress() ? [.storeState(endpoint.state)] : []
            return store + report(.endpointChanged, now: now)
        case .assigned(let plan):
            return apply(streampoints.assign(plan, now: now), now: now)
        case .command(let id, let kind, let argument):
            return command(id, kind: kind, argument: argument, now: now)
        case .statsRequested:
            return report(.requested, now: now)
        case .stateChanged:
            return [.storeState(endpoint.state)]
        }
    }

    private mutating func command(_ id: UInt32, kind: CommandKind, argument: UInt32, now: Int64) -> [AgentAction] {
        func result(_ code: ErrorCode?, _ text: String) -> [AgentAction] {
            apply(endpoint.send(.commandResult(commandID: id, code: code, message: text), now: now), now: now)
        }
        switch kind {
        case .disconnect:
            let seconds = Int64(min(argument, Tunables.maxDisconnectSeconds))
            let awayMs = seconds > 0 ? seconds * 1000 : config.backoffInitialMs
            var actions = result(nil, "disconnecting; reconnecting in \(formatMillis(awayMs))")
            actions.append(.log(.warn, "endpoint ordered a disconnect: closing every link and tunnel; reconnecting in \(formatMillis(awayMs))"))
            actions += leaveEverything(now: now)
            actions += apply(endpoint.leave(until: now + awayMs), now: now)
            return actions
        case .reboot:
            guard let rebootCommand = config.rebootCommand else {
                return [.log(.warn, "endpoint ordered a reboot, but reboot_command is not configured")]
                    + result(.internalError, "reboot_command is not configured on this unit")
            }
            return result(nil, "running the reboot command")
                + [.log(.warn, "endpoint ordered a reboot: running \(rebootCommand)"), .runCommand(rebootCommand)]
        case .reset:
            guard endpoint.forgetIdentity() else {
                return [.log(.warn, "endpoint ordered a reset, but this unit has no factory identity to activate with")]
                    + result(.unexpectedMessage, "no factory identity on this unit (its agent_id is fixed in the config); not reset")
            }
            var actions = result(nil, "identity dropped; activating again")
            actions.append(.log(.warn, "endpoint ordered a reset: identity dropped; activating again as unit \(config.factory?.serial ?? "?")"))
            actions.append(.storeState(endpoint.state))
            actions += leaveEverything(now: now)
            actions += apply(endpoint.leave(until: nil), now: now)
            actions += apply(endpoint.dialIfDue(now: now), now: now)
            return actions
        case .unknown:
            return result(.unexpectedMessage, "unknown command")
        }
    }

    /// Closes the streampoint links and every tunnel (a disconnect or reset).
    private mutating func leaveEverything(now: Int64) -> [AgentAction] {
        apply(streampoints.leaveAll(), now: now) + apply(tunnels.closeAll(now: now), now: now)
    }

    private mutating func report(_ reason: StatsReason, now: Int64) -> [AgentAction] {
        nextReportAt = now + Tunables.reportIntervalMs
        let report = StatsReport(reason: reason, uptimeSeconds: UInt32(clamping: (now - startedAt) / 1000),
                                 secondsSinceChange: UInt32(clamping: (now - lastChangeAt) / 1000),
                                 endpoint: endpoint.currentEndpoint.display, streampointID: streampoints.currentID,
                                 streampointState: streampoints.linkState, localAddress: endpoint.localAddress,
                                 counters: stats.numbered)
        return apply(endpoint.send(.agentStats(report), now: now), now: now)
    }

    // MARK: - Streampoints

    private mutating func handle(_ event: StreampointEvent, now: Int64) -> [AgentAction] {
        switch event {
        case .protocolError:
            linkStats.protocolErrors += 1
            return []
        case .tunnelRequested(let request, let slot):
            return apply(tunnels.open(request, from: slot, streampoint: streampoints.session(slot).link.address, now: now),
                         now: now)
        case .registered(let streampointID):
            let id = streampoints.currentID.isEmpty ? streampointID : streampoints.currentID
            guard id != lastStreampointID else { return [] }
            if !lastStreampointID.isEmpty {
                linkStats.streampointChanges += 1
                lastChangeAt = now
            }
            lastStreampointID = id
            return report(.streampointChanged, now: now)
        case .switchedAway(let old):
            return apply(tunnels.streampointSwitchedAway(from: old, now: now), now: now)
        case .needsTicket:
            return apply(endpoint.requestTicket(now: now), now: now)
        }
    }
}
