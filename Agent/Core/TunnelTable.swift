import CamProtocol

/// One tunnel from TUNNEL_OPEN until its bytes start flowing: connect to the
/// local target, then open a data link to the streampoint and bind it. Once
/// splicing, the runtime owns the two sockets and reports when they are done.
struct Tunnel: Sendable {
    enum Phase: Equatable, Sendable {
        case connectingTarget
        case connectingData
        case binding
        case splicing
    }

    /// The agent's own id for the tunnel (its LinkIDs); usually `remoteID`.
    let id: UInt32
    /// The streampoint's id, used in TUNNEL_BIND and TUNNEL_OPEN_FAILED.
    let remoteID: UInt32
    let target: ServerAddress
    let streampoint: ServerAddress
    /// The control link that asked for it (where TUNNEL_OPEN_FAILED goes).
    let slot: StreampointSlot
    let bindToken: [UInt8]
    var phase = Phase.connectingTarget
    /// Setup must finish by then; a splicing tunnel has no deadline.
    let setupDeadline: Int64
    var reader = LinkReader(rawAfterHelloAck: true)
    /// Set when the agent switched away from this tunnel's streampoint: the
    /// tunnel may finish until then, and is closed at that time.
    var closeAt: Int64?
}

/// What the tunnel table asks of AgentCore.
enum TunnelEvent: Equatable, Sendable {
    /// Tell the streampoint on `slot` that the tunnel it asked for failed
    /// (TUNNEL_OPEN_FAILED), if that control link is still up.
    case openFailed(StreampointSlot, tunnelID: UInt32, code: ErrorCode, reason: String)
}

/// Every tunnel the agent has, from the streampoint's TUNNEL_OPEN to the
/// runtime's report that its bytes stopped: the allowlist check, the limit,
/// the local ids, setup and its timeout, the switch grace period, and the
/// tunnel counters of AGENT_STATS.
struct TunnelTable: Sendable {
    private var tunnels: [UInt32: Tunnel] = [:]
    private var lastAlternateID = Tunables.alternateTunnelIDBase
    private let config: AgentConfig
    /// The tunnel counters; AgentCore adds its own for the report.
    private(set) var stats = AgentStats()

    init(config: AgentConfig) {
        self.config = config
    }

    var count: Int { tunnels.count }
    var inSetup: Int {
        var count = 0
        for tunnel in tunnels.values where tunnel.phase != .splicing { count += 1 }
        return count
    }

    var nextDeadline: Int64? {
        var earliest: Int64?
        func consider(_ time: Int64?) {
            guard let time else { return }
            earliest = earliest.map { $0 < time ? $0 : time } ?? time
        }
        for tunnel in tunnels.values {
            if tunnel.phase != .splicing { consider(tunnel.setupDeadline) }
            consider(tunnel.closeAt)
        }
        return earliest
    }

    /// A TUNNEL_OPEN from the streampoint on `slot`, reached at `streampoint`
    /// (nil: that link is gone, so there is nowhere to bind).
    mutating func open(_ request: TunnelRequest, from slot: StreampointSlot, streampoint: ServerAddress?,
                       now: Int64) -> Output<TunnelEvent> {
        stats.tunnelsRequested += 1
        let target = ServerAddress(host: request.host, port: request.port)
        func refuse(_ code: ErrorCode, _ text: String) -> TunnelEvent {
            .openFailed(slot, tunnelID: request.tunnelID, code: code, reason: text)
        }
        guard config.allowsTarget(host: request.host, port: request.port) else {
            stats.tunnelsRefused += 1
            let text = "\(target.display) is not a configured target"
            return Output([.log(.warn, "tunnel \(request.tunnelID): refused: \(text)")],
                          events: [refuse(.targetNotAllowed, text)])
        }
        for tunnel in tunnels.values where tunnel.slot == slot && tunnel.remoteID == request.tunnelID {
            stats.tunnelsFailed += 1
            return Output([.log(.warn, "tunnel \(request.tunnelID): refused: the streampoint's id is already in use")],
                          events: [refuse(.unexpectedMessage, "tunnel id already in use")])
        }
        guard tunnels.count < config.maxTunnels, let streampoint else {
            stats.tunnelsFailed += 1
            stats.bufferOverruns += 1
            return Output([.log(.warn, "tunnel \(request.tunnelID): refused: \(config.maxTunnels) tunnels already open")],
                          events: [refuse(.internalError, "tunnel limit of \(config.maxTunnels) reached")])
        }
        let id = localID(for: request.tunnelID)
        tunnels[id] = Tunnel(id: id, remoteID: request.tunnelID, target: target, streampoint: streampoint, slot: slot,
                             bindToken: request.bindToken, setupDeadline: now + Tunables.tunnelSetupTimeoutMs)
        return Output([.log(.debug, "tunnel \(id): opening to \(target.display)"),
                       .connect(.tunnelTarget(id), target)])
    }

    /// Tunnel ids are the streampoint's, so two streampoints (during a switch's
    /// grace period) may both use 1. Locally a tunnel keeps its streampoint's id
    /// unless that is taken; then it gets one from the upper half.
    private mutating func localID(for remoteID: UInt32) -> UInt32 {
        if tunnels[remoteID] == nil { return remoteID }
        repeat {
            lastAlternateID = lastAlternateID &+ 1 | Tunables.alternateTunnelIDBase
        } while tunnels[lastAlternateID] != nil
        return lastAlternateID
    }

    mutating func targetConnected(_ id: UInt32, now: Int64) -> Output<TunnelEvent> {
        guard var tunnel = tunnels[id], tunnel.phase == .connectingTarget else { return Output() }
        tunnel.phase = .connectingData
        tunnels[id] = tunnel
        return Output([.connect(.tunnelData(id), tunnel.streampoint)])
    }

    mutating func dataConnected(_ id: UInt32, now: Int64) -> Output<TunnelEvent> {
        guard var tunnel = tunnels[id], tunnel.phase == .connectingData else { return Output() }
        tunnel.phase = .binding
        tunnels[id] = tunnel
        // Upgrade, HELLO and TUNNEL_BIND in one write: the bind costs no extra round trip.
        var bytes = HTTPUpgrade.request(host: tunnel.streampoint.display)
        bytes += Message.hello(version: ProtocolConstants.version, role: .tunnelData, software: AgentVersion.software).encoded()
        bytes += Message.tunnelBind(tunnelID: tunnel.remoteID, bindToken: tunnel.bindToken).encoded()
        return Output([.send(.tunnelData(id), bytes)])
    }

    mutating func targetConnectFailed(_ id: UInt32, reason: String, now: Int64) -> Output<TunnelEvent> {
        stats.targetConnectFailures += 1
        return targetClosed(id, reason: reason, now: now)
    }

    /// The camera-side socket closed or failed before splicing.
    mutating func targetClosed(_ id: UInt32, reason: String, now: Int64) -> Output<TunnelEvent> {
        let code: ErrorCode = tunnels[id]?.phase == .connectingTarget ? .targetUnreachable : .internalError
        return fail(id, code: code, reason: "camera side: \(reason)", now: now, closing: .tunnelTarget(id))
    }

    /// The streampoint-side data socket closed or failed before splicing.
    mutating func dataClosed(_ id: UInt32, reason: String, now: Int64) -> Output<TunnelEvent> {
        fail(id, code: .internalError, reason: "streampoint side: \(reason)", now: now, closing: .tunnelData(id))
    }

    /// Bytes on a data link still binding: the upgrade, HELLO_ACK, and any
    /// tunnel bytes that came with it (for the camera).
    mutating func dataReceived(_ id: UInt32, bytes: [UInt8], now: Int64) -> Output<TunnelEvent> {
        guard var tunnel = tunnels[id], tunnel.phase == .binding else { return Output() }
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
                return Output([.log(.info, "tunnel \(id): open to \(tunnel.target.display)"),
                               .splice(tunnelID: id, toTarget: early)])
            case .message(.error(let code, let text)):
                return fail(id, code: code, reason: "streampoint refused the bind: \(code.name): \(LogText.peer(text))", now: now)
            case .message(let other):
                return fail(id, code: .unexpectedMessage, reason: "unexpected \(other.name) on data link", now: now)
            case .violation(let error), .upgradeFailed(let error):
                stats.protocolErrors += 1
                return fail(id, code: error.code, reason: error.description, now: now)
            case .raw:
                continue
            }
        }
        return Output()
    }

    /// The runtime finished moving a tunnel's bytes and closed both sockets.
    mutating func finished(_ id: UInt32, bytesToStreampoint: UInt64, bytesFromStreampoint: UInt64,
                           reason: String, now: Int64) -> Output<TunnelEvent> {
        guard tunnels.removeValue(forKey: id) != nil else { return Output() }
        stats.bytesToStreampoint += bytesToStreampoint
        stats.bytesFromStreampoint += bytesFromStreampoint
        return Output([.log(.info, "tunnel \(id): closed (\(reason)); \(bytesToStreampoint) bytes out, \(bytesFromStreampoint) bytes in")])
    }

    /// Setups that ran out of time fail; tunnels whose grace period after a
    /// streampoint switch is over are closed.
    mutating func tick(now: Int64) -> Output<TunnelEvent> {
        var expired: [UInt32] = []
        var graceOver: [UInt32] = []
        for (id, tunnel) in tunnels {
            if tunnel.phase != .splicing && now >= tunnel.setupDeadline { expired.append(id) }
            if let closeAt = tunnel.closeAt, now >= closeAt { graceOver.append(id) }
        }
        var out = Output<TunnelEvent>()
        for id in expired { out += fail(id, code: .timeout, reason: "setup timed out", now: now) }
        for id in graceOver where tunnels[id] != nil {
            out.append(.log(.info, "tunnel \(id): closing; its streampoint was switched away from \(formatMillis(config.switchGraceMs)) ago"))
            out += close(id, now: now)
        }
        return out
    }

    /// The agent left the streampoint on `slot`: its tunnels may finish within the grace period.
    mutating func streampointSwitchedAway(from slot: StreampointSlot, now: Int64) -> Output<TunnelEvent> {
        var leaving: [UInt32] = []
        for (id, tunnel) in tunnels where tunnel.slot == slot && tunnel.closeAt == nil { leaving.append(id) }
        let closeAt = now + config.switchGraceMs
        for id in leaving { tunnels[id]?.closeAt = closeAt }
        return Output()
    }

    /// Closes every tunnel (a disconnect or reset).
    mutating func closeAll(now: Int64) -> Output<TunnelEvent> {
        var out = Output<TunnelEvent>()
        // In ascending id order, picked by a loop: sorted()'s stable-sort
        // specialisation costs about 1 KB on armv5, and there are few tunnels.
        var last: UInt32?
        while true {
            var next: UInt32?
            for id in tunnels.keys where last.map({ id > $0 }) ?? true { if next.map({ id < $0 }) ?? true { next = id } }
            guard let id = next else { break }
            out += close(id, now: now)
            last = id
        }
        return out
    }

    /// Stops a tunnel in any phase. A splicing one is the runtime's: it closes
    /// it and reports `tunnelFinished`, which removes it here.
    private mutating func close(_ id: UInt32, now: Int64) -> Output<TunnelEvent> {
        guard let tunnel = tunnels[id] else { return Output() }
        if tunnel.phase == .splicing {
            tunnels[id]?.closeAt = nil
            return Output([.closeTunnel(id)])
        }
        tunnels[id] = nil
        stats.tunnelsFailed += 1
        var out = Output<TunnelEvent>([.close(.tunnelTarget(id))])
        if tunnel.phase != .connectingTarget { out.append(.close(.tunnelData(id))) }
        return out
    }

    /// Tears down a tunnel that never reached splicing (or whose socket died
    /// before the runtime took it over), telling the streampoint why.
    private mutating func fail(_ id: UInt32, code: ErrorCode, reason: String, now: Int64,
                               closing alreadyClosed: LinkID? = nil) -> Output<TunnelEvent> {
        guard let tunnel = tunnels[id], tunnel.phase != .splicing else { return Output() }
        tunnels[id] = nil
        stats.tunnelsFailed += 1
        var out = Output<TunnelEvent>([.log(.warn, "tunnel \(id) to \(tunnel.target.display): \(reason)")])
        if alreadyClosed != .tunnelTarget(id) { out.append(.close(.tunnelTarget(id))) }
        if tunnel.phase != .connectingTarget && alreadyClosed != .tunnelData(id) { out.append(.close(.tunnelData(id))) }
        out.emit(.openFailed(tunnel.slot, tunnelID: tunnel.remoteID, code: code, reason: reason))
        return out
    }
}
