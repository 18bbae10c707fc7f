import CamProtocol

/// The whole agent as a pure state machine: the endpoint session, the
/// streampoint failover, the tunnels in setup, the endpoint's commands and the
/// reports. Every method takes the time and returns actions for the runtime;
/// nothing here performs I/O.
public struct AgentCore<Entropy: EntropySource> {
    public let config: AgentConfig
    private var entropy: Entropy
    private var endpoint: EndpointSession
    private var streampoints: StreampointFailover
    private var tunnels: [UInt32: Tunnel] = [:]
    public private(set) var stats = AgentStats()
    private var startedAt: Int64 = 0
    private var lastChangeAt: Int64 = 0
    private var lastEndpoint: ServerAddress?
    private var lastStreampointID = ""
    private var nextReportAt: Int64?
    private var lastAlternateID: UInt32 = 0x8000_0000
    /// Tunnel setup (target connect + data link handshake) must finish within this.
    public static var tunnelSetupTimeoutMs: Int64 { 10_000 }
    /// AGENT_STATS goes to the endpoint this often, besides on changes and requests.
    public static var reportIntervalMs: Int64 { 60_000 }

    /// `state` is what the state file held at start (identity, pushed endpoints).
    public init(config: AgentConfig, state: AgentState = AgentState(), entropy: Entropy) {
        self.config = config
        self.entropy = entropy
        endpoint = EndpointSession(config: config, identity: config.identity, state: state)
        streampoints = StreampointFailover(config: config)
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
    public var tunnelsInSetup: Int { tunnels.values.filter { $0.phase != .splicing }.count }
    public var tunnelCount: Int { tunnels.count }

    public mutating func start(now: Int64) -> [AgentAction] {
        startedAt = now
        lastChangeAt = now
        let who = endpoint.identity.map { "agent \($0.agentID)" } ?? "unit \(config.factory?.serial ?? "?") (not activated)"
        var actions: [AgentAction] = [.log(.info, "\(who) starting (\(AgentVersion.software), \(BuildInfo.target))")]
        if config.allowPlaintext {
            actions.append(.log(.warn, "allow_plaintext = yes: plain-TCP servers are accepted and those links are NOT encrypted (lab use only)"))
        }
        if endpoint.endpointsWerePushed {
            actions.append(.log(.info, "endpoint list from the state file: " + endpoint.endpoints.map { $0.display }.joined(separator: ", ")))
        }
        actions += endpoint.dialIfDue(now: now)
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
        for tunnel in tunnels.values {
            if tunnel.phase != .splicing { consider(tunnel.setupDeadline) }
            consider(tunnel.closeAt)
        }
        return earliest
    }

    public mutating func tick(now: Int64) -> [AgentAction] {
        var actions = endpoint.tick(now: now, entropy: &entropy)
        let events = streampoints.tick(now: now, random: entropy.uint64(), actions: &actions)
        actions += handle(events, now: now)
        var expired: [UInt32] = []
        var graceOver: [UInt32] = []
        for (id, tunnel) in tunnels {
            if tunnel.phase != .splicing && now >= tunnel.setupDeadline { expired.append(id) }
            if let closeAt = tunnel.closeAt, now >= closeAt { graceOver.append(id) }
        }
        for id in expired { actions += failTunnel(id, code: .timeout, reason: "setup timed out", now: now) }
        for id in graceOver where tunnels[id] != nil {
            actions.append(.log(.info, "tunnel \(id): closing; its streampoint was switched away from \(formatMillis(config.switchGraceMs)) ago"))
            actions += closeTunnel(id, now: now)
        }
        if endpoint.link.isUp, let due = nextReportAt, now >= due {
            actions += report(.periodic, now: now)
        }
        return actions
    }

    public mutating func connected(_ link: LinkID, now: Int64, addresses: SocketAddresses? = nil) -> [AgentAction] {
        switch link {
        case .endpoint:
            return endpoint.connected(now: now, addresses: addresses)
        case .endpointProbe:
            return endpoint.probeConnected(now: now)
        case .streampoint(let slot):
            return streampoints.connected(slot, now: now, addresses: addresses)
        case .tunnelTarget(let id):
            guard var tunnel = tunnels[id], tunnel.phase == .connectingTarget else { return [] }
            tunnel.phase = .connectingData
            tunnels[id] = tunnel
            return [.connect(.tunnelData(id), tunnel.streampoint)]
        case .tunnelData(let id):
            guard var tunnel = tunnels[id], tunnel.phase == .connectingData else { return [] }
            tunnel.phase = .binding
            tunnels[id] = tunnel
            // Upgrade, HELLO and TUNNEL_BIND in one write: the bind costs no extra round trip.
            var bytes = HTTPUpgrade.request(host: tunnel.streampoint.display)
            bytes += Message.hello(version: ProtocolConstants.version, role: .tunnelData, software: AgentVersion.software).encoded()
            bytes += Message.tunnelBind(tunnelID: tunnel.remoteID, bindToken: tunnel.bindToken).encoded()
            return [.send(.tunnelData(id), bytes)]
        }
    }

    public mutating func connectFailed(_ link: LinkID, reason: String, now: Int64) -> [AgentAction] {
        switch link {
        case .endpoint, .streampoint: stats.controlConnectFailures += 1
        case .tunnelTarget: stats.targetConnectFailures += 1
        default: break
        }
        return closed(link, reason: "connect failed: \(reason)", now: now)
    }

    /// The runtime saw the socket close or fail (not after a `.close` we asked for).
    public mutating func closed(_ link: LinkID, reason: String, now: Int64) -> [AgentAction] {
        switch link {
        case .endpoint:
            return endpoint.fail(reason, now: now, random: entropy.uint64(), closeSocket: false)
        case .endpointProbe:
            return endpoint.probeFailed(reason, now: now)
        case .streampoint(let slot):
            var actions: [AgentAction] = []
            let events = streampoints.fail(slot, reason, now: now, random: entropy.uint64(), closeSocket: false, actions: &actions)
            return actions + handle(events, now: now)
        case .tunnelTarget(let id):
            let code: ErrorCode = tunnels[id]?.phase == .connectingTarget ? .targetUnreachable : .internalError
            return failTunnel(id, code: code, reason: "camera side: \(reason)", now: now, closing: link)
        case .tunnelData(let id):
            return failTunnel(id, code: .internalError, reason: "streampoint side: \(reason)", now: now, closing: link)
        }
    }

    public mutating func received(_ link: LinkID, bytes: [UInt8], now: Int64) -> [AgentAction] {
        var actions: [AgentAction] = []
        switch link {
        case .endpoint:
            let hadIdentity = endpoint.identity != nil
            for input in endpoint.feed(bytes, now: now) {
                if input.isProtocolError { stats.protocolErrors += 1 }
                if let event = endpoint.handle(input, now: now, entropy: &entropy, actions: &actions) {
                    actions += handle(event, now: now)
                }
                if endpoint.link.isDown { break }
            }
            if !hadIdentity && endpoint.identity != nil { actions.append(.storeState(endpoint.state)) }
        case .endpointProbe:
            actions += endpoint.probeReceived(bytes, now: now)
        case .streampoint(let slot):
            let outcome = streampoints.received(slot, bytes: bytes, now: now, random: entropy.uint64(), actions: &actions)
            stats.protocolErrors += UInt64(outcome.protocolErrors)
            actions += handle(outcome.events, now: now)
        case .tunnelData(let id):
            actions += tunnelHandshake(id, bytes: bytes, now: now)
        case .tunnelTarget:
            break  // the runtime reads target sockets only while splicing
        }
        return actions
    }

    /// The runtime finished moving a tunnel's bytes and closed both sockets.
    public mutating func tunnelFinished(_ id: UInt32, bytesToStreampoint: UInt64, bytesFromStreampoint: UInt64,
                                        reason: String, now: Int64) -> [AgentAction] {
        guard tunnels.removeValue(forKey: id) != nil else { return [] }
        stats.bytesToStreampoint += bytesToStreampoint
        stats.bytesFromStreampoint += bytesFromStreampoint
        return [.log(.info, "tunnel \(id): closed (\(reason)); \(bytesToStreampoint) bytes out, \(bytesFromStreampoint) bytes in")]
    }

    // MARK: - The endpoint's orders

    private mutating func handle(_ event: EndpointEvent, now: Int64) -> [AgentAction] {
        switch event {
        case .authenticated:
            streampoints.adoptTimers(heartbeatMs: endpoint.heartbeatMs, peerTimeoutMs: endpoint.peerTimeoutMs)
            let current = endpoint.currentEndpoint
            if let lastEndpoint, lastEndpoint != current {
                stats.endpointChanges += 1
                lastChangeAt = now
            }
            lastEndpoint = current
            let store: [AgentAction] = endpoint.adoptReachedAddress() ? [.storeState(endpoint.state)] : []
            return store + report(.endpointChanged, now: now)
        case .assigned(let plan):
            return streampoints.assign(plan, now: now)
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
            endpoint.send(.commandResult(commandID: id, code: code, message: text), now: now)
        }
        switch kind {
        case .disconnect:
            let seconds = Int64(min(argument, 3600))
            let awayMs = seconds > 0 ? seconds * 1000 : config.backoffInitialMs
            var actions = result(nil, "disconnecting; reconnecting in \(formatMillis(awayMs))")
            actions.append(.log(.warn, "endpoint ordered a disconnect: closing every link and tunnel; reconnecting in \(formatMillis(awayMs))"))
            actions += leaveEverything(now: now)
            actions += endpoint.leave(until: now + awayMs)
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
            actions += endpoint.leave(until: nil)
            actions += endpoint.dialIfDue(now: now)
            return actions
        case .unknown:
            return result(.unexpectedMessage, "unknown command")
        }
    }

    /// Closes the streampoint links and every tunnel (a disconnect or reset).
    private mutating func leaveEverything(now: Int64) -> [AgentAction] {
        var actions = streampoints.leaveAll()
        for id in tunnels.keys.sorted() { actions += closeTunnel(id, now: now) }
        return actions
    }

    private mutating func report(_ reason: StatsReason, now: Int64) -> [AgentAction] {
        nextReportAt = now + Self.reportIntervalMs
        let report = StatsReport(reason: reason, uptimeSeconds: UInt32(clamping: (now - startedAt) / 1000),
                                 secondsSinceChange: UInt32(clamping: (now - lastChangeAt) / 1000),
                                 endpoint: endpoint.currentEndpoint.display, streampointID: streampoints.currentID,
                                 streampointState: streampoints.linkState, localAddress: endpoint.localAddress,
                                 counters: stats.numbered)
        return endpoint.send(.agentStats(report), now: now)
    }

    // MARK: - Streampoints

    private mutating func handle(_ events: [StreampointEvent], now: Int64) -> [AgentAction] {
        var actions: [AgentAction] = []
        for event in events {
            switch event {
            case .tunnelRequested(let request, let slot):
                actions += openTunnel(request, from: slot, now: now)
            case .registered(let streampointID):
                let id = streampoints.currentID.isEmpty ? streampointID : streampoints.currentID
                guard id != lastStreampointID else { continue }
                if !lastStreampointID.isEmpty {
                    stats.streampointChanges += 1
                    lastChangeAt = now
                }
                lastStreampointID = id
                actions += report(.streampointChanged, now: now)
            case .switchedAway(let old):
                let leaving = tunnels.filter { $0.value.slot == old && $0.value.closeAt == nil }.map { $0.key }
                let closeAt = now + config.switchGraceMs
                for id in leaving { tunnels[id]?.closeAt = closeAt }
            case .needsTicket:
                actions += endpoint.requestTicket(now: now)
            }
        }
        return actions
    }

    // MARK: - Tunnels

    private mutating func openTunnel(_ request: TunnelRequest, from slot: StreampointSlot, now: Int64) -> [AgentAction] {
        stats.tunnelsRequested += 1
        let target = ServerAddress(host: request.host, port: request.port)
        func refuse(_ code: ErrorCode, _ text: String) -> [AgentAction] {
            streampoints.send(.tunnelOpenFailed(tunnelID: request.tunnelID, code: code, message: text), on: slot, now: now)
        }
        guard config.allowsTarget(host: request.host, port: request.port) else {
            stats.tunnelsRefused += 1
            let text = "\(target.display) is not a configured target"
            return [.log(.warn, "tunnel \(request.tunnelID): refused: \(text)")] + refuse(.targetNotAllowed, text)
        }
        for tunnel in tunnels.values where tunnel.slot == slot && tunnel.remoteID == request.tunnelID {
            stats.tunnelsFailed += 1
            return refuse(.unexpectedMessage, "tunnel id already in use")
        }
        guard tunnels.count < config.maxTunnels, let streampointAddress = streampoints.session(slot).link.address else {
            stats.tunnelsFailed += 1
            stats.bufferOverruns += 1
            return [.log(.warn, "tunnel \(request.tunnelID): refused: \(config.maxTunnels) tunnels already open")]
                + refuse(.internalError, "tunnel limit of \(config.maxTunnels) reached")
        }
        let id = localID(for: request.tunnelID)
        tunnels[id] = Tunnel(id: id, remoteID: request.tunnelID, target: target, streampoint: streampointAddress, slot: slot,
                             bindToken: request.bindToken, setupDeadline: now + Self.tunnelSetupTimeoutMs)
        return [.log(.debug, "tunnel \(id): opening to \(target.display)"),
                .connect(.tunnelTarget(id), target)]
    }

    /// Tunnel ids are the streampoint's, so two streampoints (during a switch's
    /// grace period) may both use 1. Locally a tunnel keeps its streampoint's id
    /// unless that is taken; then it gets one from the upper half.
    private mutating func localID(for remoteID: UInt32) -> UInt32 {
        if tunnels[remoteID] == nil { return remoteID }
        repeat { lastAlternateID = lastAlternateID &+ 1 | 0x8000_0000 } while tunnels[lastAlternateID] != nil
        return lastAlternateID
    }

    private mutating func tunnelHandshake(_ id: UInt32, bytes: [UInt8], now: Int64) -> [AgentAction] {
        guard var tunnel = tunnels[id], tunnel.phase == .binding else { return [] }
        let inputs = tunnel.reader.feed(bytes)
        tunnels[id] = tunnel
        for input in inputs {
            switch input {
            case .upgraded:
                continue
            case .message(.helloAck):
                tunnel.phase = .splicing
                tunnels[id] = tunnel
                stats.tunnelsEstablished += 1
                var early: [UInt8] = []
                for case .raw(let chunk) in inputs { early += chunk }
                return [.log(.info, "tunnel \(id): open to \(tunnel.target.display)"),
                        .splice(tunnelID: id, toTarget: early)]
            case .message(.error(let code, let text)):
                return failTunnel(id, code: code, reason: "streampoint refused the bind: \(code.name): \(text)", now: now)
            case .message(let other):
                return failTunnel(id, code: .unexpectedMessage, reason: "unexpected \(other.name) on data link", now: now)
            case .violation(let error), .upgradeFailed(let error):
                stats.protocolErrors += 1
                return failTunnel(id, code: error.code, reason: error.description, now: now)
            case .raw:
                continue
            }
        }
        return []
    }

    /// Stops a tunnel in any phase. A splicing one is the runtime's: it closes
    /// it and reports `tunnelFinished`, which removes it here.
    private mutating func closeTunnel(_ id: UInt32, now: Int64) -> [AgentAction] {
        guard let tunnel = tunnels[id] else { return [] }
        if tunnel.phase == .splicing {
            tunnels[id]?.closeAt = nil
            return [.closeTunnel(id)]
        }
        tunnels[id] = nil
        stats.tunnelsFailed += 1
        var actions: [AgentAction] = [.close(.tunnelTarget(id))]
        if tunnel.phase != .connectingTarget { actions.append(.close(.tunnelData(id))) }
        return actions
    }

    /// Tears down a tunnel that never reached splicing (or whose socket died
    /// before the runtime took it over), telling the streampoint why.
    private mutating func failTunnel(_ id: UInt32, code: ErrorCode, reason: String, now: Int64,
                                     closing alreadyClosed: LinkID? = nil) -> [AgentAction] {
        guard let tunnel = tunnels[id], tunnel.phase != .splicing else { return [] }
        tunnels[id] = nil
        stats.tunnelsFailed += 1
        var actions: [AgentAction] = [.log(.warn, "tunnel \(id) to \(tunnel.target.display): \(reason)")]
        if alreadyClosed != .tunnelTarget(id) { actions.append(.close(.tunnelTarget(id))) }
        if tunnel.phase != .connectingTarget && alreadyClosed != .tunnelData(id) { actions.append(.close(.tunnelData(id))) }
        actions += streampoints.send(.tunnelOpenFailed(tunnelID: tunnel.remoteID, code: code, message: reason), on: tunnel.slot, now: now)
        return actions
    }
}
