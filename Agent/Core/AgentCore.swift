import CamProtocol

/// The whole agent as a pure state machine: the endpoint session, the
/// streampoint session and the tunnels in setup. Every method takes the time
/// and returns actions for the runtime; nothing here performs I/O.
public struct AgentCore<Entropy: EntropySource> {
    public let config: AgentConfig
    private var entropy: Entropy
    private var endpoint: EndpointSession
    private var streampoint: StreampointSession
    private var tunnels: [UInt32: Tunnel] = [:]
    public private(set) var stats = AgentStats()
    /// Tunnel setup (target connect + data link handshake) must finish within this.
    public static var tunnelSetupTimeoutMs: Int64 { 10_000 }

    /// `identity` is the one loaded from the state file, if any; else the config's.
    public init(config: AgentConfig, identity: AgentIdentity? = nil, entropy: Entropy) {
        self.config = config
        self.entropy = entropy
        endpoint = EndpointSession(config: config, identity: identity ?? config.identity)
        streampoint = StreampointSession(config: config)
    }

    public var isEndpointUp: Bool { endpoint.link.isUp }
    public var identity: AgentIdentity? { endpoint.identity }
    public var isStreampointUp: Bool { streampoint.link.isUp }
    public var tunnelsInSetup: Int { tunnels.values.filter { $0.phase != .splicing }.count }
    public var tunnelCount: Int { tunnels.count }

    public mutating func start(now: Int64) -> [AgentAction] {
        let who = endpoint.identity.map { "agent \($0.agentID)" } ?? "unit \(config.factory?.serial ?? "?") (not activated)"
        var actions: [AgentAction] = [.log(.info, "\(who) starting (\(AgentVersion.software), \(BuildInfo.target))")]
        if config.allowPlaintext {
            actions.append(.log(.warn, "allow_plaintext = yes: plain-TCP servers are accepted and those links are NOT encrypted (lab use only)"))
        }
        actions += endpoint.dialIfDue(now: now)
        return actions
    }

    /// The earliest time `tick` has work to do, or nil when only I/O can wake us.
    public var nextDeadline: Int64? {
        var earliest = endpoint.link.deadline
        if streampoint.assignment != nil && !streampoint.needsFreshTicket, let d = streampoint.link.deadline {
            earliest = earliest.map { $0 < d ? $0 : d } ?? d
        }
        for tunnel in tunnels.values where tunnel.phase != .splicing {
            earliest = earliest.map { $0 < tunnel.setupDeadline ? $0 : tunnel.setupDeadline } ?? tunnel.setupDeadline
        }
        return earliest
    }

    public mutating func tick(now: Int64) -> [AgentAction] {
        var actions = endpoint.tick(now: now, entropy: &entropy)
        actions += streampoint.tick(now: now, random: entropy.uint64())
        var expired: [UInt32] = []
        for (id, tunnel) in tunnels where tunnel.phase != .splicing && now >= tunnel.setupDeadline {
            expired.append(id)
        }
        for id in expired { actions += failTunnel(id, code: .timeout, reason: "setup timed out", now: now) }
        return actions
    }

    public mutating func connected(_ link: LinkID, now: Int64) -> [AgentAction] {
        switch link {
        case .endpoint: return endpoint.connected(now: now)
        case .streampoint: return streampoint.connected(now: now)
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
            bytes += Message.tunnelBind(tunnelID: id, bindToken: tunnel.bindToken).encoded()
            return [.send(.tunnelData(id), bytes)]
        }
    }

    public mutating func connectFailed(_ link: LinkID, reason: String, now: Int64) -> [AgentAction] {
        closed(link, reason: "connect failed: \(reason)", now: now)
    }

    /// The runtime saw the socket close or fail (not after a `.close` we asked for).
    public mutating func closed(_ link: LinkID, reason: String, now: Int64) -> [AgentAction] {
        switch link {
        case .endpoint:
            return endpoint.fail(reason, now: now, random: entropy.uint64(), closeSocket: false)
        case .streampoint:
            return streampoint.fail(reason, now: now, random: entropy.uint64(), closeSocket: false)
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
            for input in endpoint.feed(bytes, now: now) {
                if input.isProtocolError { stats.protocolErrors += 1 }
                let wasUp = endpoint.link.isUp
                if let assignment = endpoint.handle(input, now: now, entropy: &entropy, actions: &actions) {
                    actions += streampoint.assign(assignment, now: now)
                }
                if !wasUp && endpoint.link.isUp {
                    streampoint.adoptTimers(heartbeatMs: endpoint.heartbeatMs, peerTimeoutMs: endpoint.peerTimeoutMs)
                }
                if endpoint.link.isDown { break }
            }
        case .streampoint:
            for input in streampoint.feed(bytes, now: now) {
                if input.isProtocolError { stats.protocolErrors += 1 }
                if let request = streampoint.handle(input, now: now, random: entropy.uint64(), actions: &actions) {
                    actions += openTunnel(request, now: now)
                }
                if streampoint.link.isDown {
                    if streampoint.needsFreshTicket { actions += endpoint.requestTicket(now: now) }
                    break
                }
            }
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

    private mutating func openTunnel(_ request: TunnelRequest, now: Int64) -> [AgentAction] {
        stats.tunnelsRequested += 1
        let target = ServerAddress(host: request.host, port: request.port)
        guard config.allowsTarget(host: request.host, port: request.port) else {
            stats.tunnelsRefused += 1
            let text = "\(target.display) is not a configured target"
            return [.log(.warn, "tunnel \(request.tunnelID): refused: \(text)")]
                + streampoint.send(.tunnelOpenFailed(tunnelID: request.tunnelID, code: .targetNotAllowed, message: text), now: now)
        }
        guard tunnels[request.tunnelID] == nil else {
            stats.tunnelsFailed += 1
            return streampoint.send(.tunnelOpenFailed(tunnelID: request.tunnelID, code: .unexpectedMessage,
                                                      message: "tunnel id already in use"), now: now)
        }
        guard tunnels.count < config.maxTunnels, let streampointAddress = streampoint.link.address else {
            stats.tunnelsFailed += 1
            return [.log(.warn, "tunnel \(request.tunnelID): refused: \(config.maxTunnels) tunnels already open")]
                + streampoint.send(.tunnelOpenFailed(tunnelID: request.tunnelID, code: .internalError,
                                                     message: "tunnel limit of \(config.maxTunnels) reached"), now: now)
        }
        tunnels[request.tunnelID] = Tunnel(id: request.tunnelID, target: target, streampoint: streampointAddress,
                                           bindToken: request.bindToken,
                                           setupDeadline: now + Self.tunnelSetupTimeoutMs)
        return [.log(.debug, "tunnel \(request.tunnelID): opening to \(target.display)"),
                .connect(.tunnelTarget(request.tunnelID), target)]
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
        actions += streampoint.send(.tunnelOpenFailed(tunnelID: id, code: code, message: reason), now: now)
        return actions
    }
}
