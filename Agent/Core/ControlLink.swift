import CamProtocol

/// The lifecycle every control link shares (endpoint and streampoint): dial,
/// HTTP upgrade + HELLO, a role-specific handshake, then heartbeats and
/// dead-peer detection, and backoff after any failure. Explicit deadlines, in
/// the manner of wireguard-go's timers: `deadline` says when `tick` must run.
struct ControlLink: Sendable {
    enum Phase: Equatable, Sendable {
        /// Not connected; `retryAt` is when the owner may dial again (nil = now).
        case down(retryAt: Int64?)
        case connecting(deadline: Int64)
        case handshaking(deadline: Int64)
        case up(lastReceived: Int64, lastSent: Int64)
    }

    let id: LinkID
    let role: LinkRole
    private(set) var phase = Phase.down(retryAt: nil)
    private(set) var address: ServerAddress?
    private(set) var reader = LinkReader(rawAfterHelloAck: false)
    var backoff: Backoff
    /// Per-device offset of the first reconnect after a working session is lost.
    var deviceSeed: UInt64 = 0
    /// Dials since the last success: alternates DNS-first and known-address-first.
    private var attempts = 0
    var heartbeatMs: Int64
    var peerTimeoutMs: Int64
    /// Connect plus handshake must finish within this, so a server that accepts
    /// and then stalls cannot hold the link.
    let handshakeTimeoutMs: Int64 = 10_000

    init(id: LinkID, role: LinkRole, backoff: Backoff, heartbeatMs: Int64, peerTimeoutMs: Int64) {
        self.id = id
        self.role = role
        self.backoff = backoff
        self.heartbeatMs = heartbeatMs
        self.peerTimeoutMs = peerTimeoutMs
    }

    /// A link with the config's backoff bounds and its initial timers.
    init(id: LinkID, role: LinkRole, config: AgentConfig) {
        self.init(id: id, role: role, backoff: Backoff(initialMs: config.backoffInitialMs, maximumMs: config.backoffMaxMs),
                  heartbeatMs: config.heartbeatSeconds * 1000, peerTimeoutMs: config.peerTimeoutSeconds * 1000)
        deviceSeed = config.deviceSeed
    }

    var isUp: Bool {
        if case .up = phase { return true }
        return false
    }

    var isDown: Bool {
        if case .down = phase { return true }
        return false
    }

    func mayDial(now: Int64) -> Bool {
        guard case .down(let retryAt) = phase else { return false }
        return retryAt.map { now >= $0 } ?? true
    }

    var deadline: Int64? {
        switch phase {
        case .down(let retryAt): return retryAt
        case .connecting(let deadline), .handshaking(let deadline): return deadline
        case .up(let lastReceived, let lastSent):
            let heartbeatDue = lastSent + heartbeatMs
            let silenceLimit = lastReceived + peerTimeoutMs
            return heartbeatDue < silenceLimit ? heartbeatDue : silenceLimit
        }
    }

    mutating func dial(_ target: ServerAddress, now: Int64) -> [AgentAction] {
        var target = target
        target.knownAddressFirst = attempts % 2 == 1
        attempts += 1
        address = target
        phase = .connecting(deadline: now + handshakeTimeoutMs)
        reader = LinkReader(rawAfterHelloAck: false)
        return [.connect(id, target)]
    }

    /// TCP is up: send the upgrade request with HELLO pipelined behind it.
    mutating func connected(now: Int64) -> [AgentAction] {
        guard case .connecting(let deadline) = phase, let address else { return [] }
        phase = .handshaking(deadline: deadline)
        var bytes = HTTPUpgrade.request(host: address.display)
        bytes.append(contentsOf: Message.hello(version: ProtocolConstants.version, role: role,
                                               software: AgentVersion.software).encoded())
        return [.log(.debug, "\(id.name): connected to \(address.display)"), .send(id, bytes)]
    }

    /// The address the server answered on; later dials of this link (and the
    /// tunnel data links that copy `address`) try it first.
    mutating func noteKnownAddress(_ known: String) {
        address?.knownAddress = known
        address?.knownAddressFirst = true
    }

    mutating func markUp(now: Int64) {
        phase = .up(lastReceived: now, lastSent: now)
        backoff.reset()
        attempts = 0
    }

    mutating func feed(_ bytes: [UInt8], now: Int64) -> [LinkInput] {
        if case .up(_, let lastSent) = phase { phase = .up(lastReceived: now, lastSent: lastSent) }
        return reader.feed(bytes)
    }

    mutating func noteSent(now: Int64) {
        if case .up(let lastReceived, _) = phase { phase = .up(lastReceived: lastReceived, lastSent: now) }
    }

    /// Drops the link and schedules the next attempt. `closeSocket` is false when
    /// the runtime already reported the socket gone.
    mutating func fail(_ reason: String, now: Int64, random: UInt64, closeSocket: Bool = true) -> [AgentAction] {
        guard !isDown else { return [] }
        // A server that dies drops its whole fleet at once: the first retry is
        // spread over the initial window by device, the later ones by backoff.
        let delay = isUp ? backoff.firstDelayAfterLossMs(deviceSeed: deviceSeed, random: random)
                         : backoff.nextDelayMs(random: random)
        phase = .down(retryAt: now + delay)
        var actions: [AgentAction] = []
        if closeSocket { actions.append(.close(id)) }
        let whereText = address.map { " (\($0.display))" } ?? ""
        actions.append(.log(.warn, "\(id.name)\(whereText): \(reason); retrying in \(formatMillis(delay))"))
        return actions
    }

    /// Cancels a pending retry delay: the next dial may happen at once.
    mutating func retryNow() {
        if isDown { phase = .down(retryAt: nil) }
    }

    /// Stays down until `time` (an ordered disconnect).
    mutating func holdDown(until time: Int64) {
        if isDown { phase = .down(retryAt: time) }
    }

    /// Closes without counting a failure (an ordered move elsewhere).
    mutating func shutDown() -> [AgentAction] {
        guard !isDown else { return [] }
        phase = .down(retryAt: nil)
        return [.close(id)]
    }

    enum TickOutcome {
        case nothing
        case sendHeartbeat
        case expired(String)
    }

    func tick(now: Int64) -> TickOutcome {
        switch phase {
        case .down:
            return .nothing
        case .connecting(let deadline):
            return now >= deadline ? .expired("connect timed out") : .nothing
        case .handshaking(let deadline):
            return now >= deadline ? .expired("handshake timed out") : .nothing
        case .up(let lastReceived, let lastSent):
            if now - lastReceived >= peerTimeoutMs {
                return .expired("peer silent for \(formatMillis(now - lastReceived))")
            }
            return now - lastSent >= heartbeatMs ? .sendHeartbeat : .nothing
        }
    }
}

/// "850 ms", "12.5 s": log text without floating point (Embedded-friendly).
public func formatMillis(_ ms: Int64) -> String {
    if ms < 1000 { return "\(ms) ms" }
    let tenths = (ms % 1000) / 100
    return tenths == 0 ? "\(ms / 1000) s" : "\(ms / 1000).\(tenths) s"
}

public enum AgentVersion {
    public static let number = "0.1.0"
    public static var software: String { "camagent/\(number)" }
}
