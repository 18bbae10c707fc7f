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

    /// Who is at the other end, for log lines.
    var peerName: String { role == .endpointControl ? "endpoint" : "streampoint" }

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

    mutating func dial(_ target: ServerAddress, now: Int64) -> Output<Never> {
        var target = target
        target.knownAddressFirst = attempts % 2 == 1
        attempts += 1
        address = target
        phase = .connecting(deadline: now + Tunables.controlHandshakeTimeoutMs)
        reader = LinkReader(rawAfterHelloAck: false)
        return Output([.connect(id, target)])
    }

    /// TCP is up: send the upgrade request with HELLO pipelined behind it.
    mutating func connected(now: Int64) -> Output<Never> {
        guard case .connecting(let deadline) = phase, let address else { return Output() }
        phase = .handshaking(deadline: deadline)
        var bytes = HTTPUpgrade.request(host: address.display)
        bytes.append(contentsOf: Message.hello(version: ProtocolConstants.version, role: role,
                                               software: AgentVersion.software).encoded())
        return Output([.log(.debug, "\(id.name): connected to \(address.display)"), .send(id, bytes)])
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

    /// Sends on an established link (nothing otherwise).
    mutating func send(_ message: Message, now: Int64) -> Output<Never> {
        guard case .up(let lastReceived, _) = phase else { return Output() }
        phase = .up(lastReceived: lastReceived, lastSent: now)
        return Output([.send(id, message.encoded())])
    }

    /// Drops the link and schedules the next attempt. `closeSocket` is false when
    /// the runtime already reported the socket gone.
    mutating func fail<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E,
                                         closeSocket: Bool = true) -> Output<Never> {
        guard !isDown else { return Output() }
        // A server that dies drops its whole fleet at once: the first retry is
        // spread over the initial window by device, the later ones by backoff.
        let delay = isUp ? backoff.firstDelayAfterLossMs(deviceSeed: deviceSeed, entropy: &entropy)
                         : backoff.nextDelayMs(entropy: &entropy)
        phase = .down(retryAt: now + delay)
        var out = Output<Never>()
        if closeSocket { out.append(.close(id)) }
        let whereText = address.map { " (\($0.display))" } ?? ""
        out.append(.log(.warn, "\(id.name)\(whereText): \(reason); retrying in \(formatMillis(delay))"))
        return out
    }

    /// Cancels a pending retry delay: the next dial may happen at once.
    mutating func retryNow() {
        if isDown { phase = .down(retryAt: nil) }
    }

    /// Stays down until `time` (an ordered disconnect, the boot jitter).
    mutating func holdDown(until time: Int64) {
        if isDown { phase = .down(retryAt: time) }
    }

    /// Closes without counting a failure (an ordered move elsewhere).
    mutating func shutDown() -> Output<Never> {
        guard !isDown else { return Output() }
        phase = .down(retryAt: nil)
        return Output([.close(id)])
    }
}

/// What a control link's owner reports when the shared input handling finds
/// the peer broke the protocol (counted in AGENT_STATS).
protocol ControlLinkEvent {
    static var protocolError: Self { get }
}

/// A machine that owns one control link: EndpointSession, StreampointSession.
/// What every control link does with its input (the upgrade, a violation, raw
/// bytes, heartbeats both ways, silence, the retry timer) is written once, in
/// the extension below; the owner supplies only its role: what a message
/// means, what else a failure resets, and where to dial.
protocol ControlLinkOwner {
    associatedtype Event: ControlLinkEvent
    var link: ControlLink { get set }
    /// One message from the peer, past the upgrade.
    mutating func handle<E: EntropySource>(_ message: Message, now: Int64, entropy: inout E) -> Output<Event>
    /// Drops the link (and whatever the role keeps for it) and schedules the retry.
    mutating func fail<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E, closeSocket: Bool) -> Output<Event>
    /// The peer went silent, or connect or handshake took too long.
    mutating func expired<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E) -> Output<Event>
    /// Dials if the link is down, its retry time is over and there is somewhere to go.
    mutating func dialIfDue(now: Int64) -> Output<Event>
}

extension ControlLinkOwner {
    mutating func expired<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E) -> Output<Event> {
        fail(reason, now: now, entropy: &entropy, closeSocket: true)
    }

    mutating func fail<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E) -> Output<Event> {
        fail(reason, now: now, entropy: &entropy, closeSocket: true)
    }

    /// One input from the link's reader.
    mutating func take<E: EntropySource>(_ input: LinkInput, now: Int64, entropy: inout E) -> Output<Event> {
        switch input {
        case .upgraded:
            return Output()
        case .message(let message):
            return handle(message, now: now, entropy: &entropy)
        case .raw:
            return fail("\(link.peerName) sent raw bytes on a control link", now: now, entropy: &entropy)
        case .upgradeFailed(let error):
            // Still HTTP on the other side: no ERROR frame is owed.
            return Output(event: .protocolError) + fail(error.description, now: now, entropy: &entropy)
        case .violation(let error):
            return Output([.send(link.id, Message.error(code: error.code, message: error.description).encoded())],
                          events: [.protocolError])
                + fail("protocol violation: \(error.description)", now: now, entropy: &entropy)
        }
    }

    /// Answers a message the role did not expect in this state with ERROR, and drops the link.
    mutating func refuseUnexpected<E: EntropySource>(_ message: Message, now: Int64, entropy: inout E) -> Output<Event> {
        let text = "unexpected \(message.name)"
        return Output([.send(link.id, Message.error(code: .unexpectedMessage, message: text).encoded())])
            + fail("\(link.peerName) sent \(text)", now: now, entropy: &entropy)
    }

    /// The link's timers: dial when the retry time is over, time out a connect
    /// or handshake, send a heartbeat when idle, give up on a silent peer.
    mutating func tickLink<E: EntropySource>(now: Int64, entropy: inout E) -> Output<Event> {
        switch link.phase {
        case .down:
            return dialIfDue(now: now)
        case .connecting(let deadline):
            return now >= deadline ? expired("connect timed out", now: now, entropy: &entropy) : Output()
        case .handshaking(let deadline):
            return now >= deadline ? expired("handshake timed out", now: now, entropy: &entropy) : Output()
        case .up(let lastReceived, let lastSent):
            if now - lastReceived >= link.peerTimeoutMs {
                return expired("peer silent for \(formatMillis(now - lastReceived))", now: now, entropy: &entropy)
            }
            var out = Output<Event>()
            if now - lastSent >= link.heartbeatMs { out += link.send(.heartbeat, now: now) }
            return out
        }
    }

    mutating func send(_ message: Message, now: Int64) -> Output<Event> {
        var out = Output<Event>()
        out += link.send(message, now: now)
        return out
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
