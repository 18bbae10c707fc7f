import CamProtocol

/// A TUNNEL_OPEN the streampoint sent, not yet checked against the allowlist.
public struct TunnelRequest: Equatable, Sendable {
    public var tunnelID: UInt32
    public var host: String
    public var port: UInt16
    public var bindToken: [UInt8]
}

/// One streampoint control link: register with the assigned streampoint using
/// the endpoint's ticket, then wait for tunnel requests. StreampointFailover
/// owns two of these (make-before-break) and decides where each one goes.
struct StreampointSession: Sendable {
    private(set) var link: ControlLink
    private(set) var assignment: StreampointAssignment?
    private var registered = false
    /// The id the streampoint gave in STREAM_REGISTERED, for reports.
    private(set) var registeredAs = ""
    /// Where the current link reached; once the streampoint accepted our
    /// ticket it becomes the assignment's known address (for redials and for
    /// tunnel data links), so dead DNS cannot cut a working streampoint off.
    private var reachedAddress: String?
    /// Set when the streampoint refused our ticket; cleared by the next assignment.
    private(set) var needsFreshTicket = false
    private let targets: [TunnelTarget]

    init(config: AgentConfig, slot: StreampointSlot) {
        targets = config.targets
        link = ControlLink(id: .streampoint(slot), role: .streampointControl, config: config)
    }

    /// The endpoint's timer values apply to every control link.
    mutating func adoptTimers(heartbeatMs: Int64, peerTimeoutMs: Int64) {
        link.heartbeatMs = heartbeatMs
        link.peerTimeoutMs = peerTimeoutMs
    }

    func serves(_ other: StreampointAssignment) -> Bool {
        assignment.map { $0.streampointID == other.streampointID && $0.address == other.address } ?? false
    }

    /// The same server only refreshes the ticket (keeping the backoff schedule,
    /// so a streampoint that refuses every ticket cannot make us spin); another
    /// one replaces the current link and is dialled at once.
    mutating func assign(_ new: StreampointAssignment, now: Int64) -> [AgentAction] {
        let sameServer = serves(new)
        assignment = new
        needsFreshTicket = false
        if sameServer { return link.isDown ? dialIfDue(now: now) : [] }
        var actions = link.shutDown()
        registered = false
        link.backoff.reset()
        link.retryNow()
        actions += dialIfDue(now: now)
        return actions
    }

    /// Points the (down) link at another server without resetting the backoff:
    /// the next dial goes there when the current delay is over.
    mutating func redirect(to new: StreampointAssignment) {
        assignment = new
        needsFreshTicket = false
    }

    mutating func retryNow() { link.retryNow() }

    /// Leaves the streampoint and forgets it.
    mutating func clear() -> [AgentAction] {
        assignment = nil
        registered = false
        needsFreshTicket = false
        return link.shutDown()
    }

    mutating func dialIfDue(now: Int64) -> [AgentAction] {
        guard let assignment, !needsFreshTicket, link.mayDial(now: now) else { return [] }
        registered = false
        return link.dial(assignment.address, now: now)
    }

    mutating func connected(now: Int64, addresses: SocketAddresses?) -> [AgentAction] {
        reachedAddress = addresses.flatMap { isNumericAddress($0.peer) ? $0.peer : nil }
        return link.connected(now: now)
    }

    mutating func feed(_ bytes: [UInt8], now: Int64) -> [LinkInput] { link.feed(bytes, now: now) }

    mutating func fail(_ reason: String, now: Int64, random: UInt64, closeSocket: Bool = true) -> [AgentAction] {
        registered = false
        return link.fail(reason, now: now, random: random, closeSocket: closeSocket)
    }

    mutating func handle(_ input: LinkInput, now: Int64, random: UInt64, actions: inout [AgentAction]) -> TunnelRequest? {
        switch input {
        case .upgraded:
            return nil
        case .raw:
            actions += fail("streampoint sent raw bytes on a control link", now: now, random: random)
        case .upgradeFailed(let error):
            actions += fail(error.description, now: now, random: random)
        case .violation(let error):
            actions.append(.send(link.id, Message.error(code: error.code, message: error.description).encoded()))
            actions += fail("protocol violation: \(error.description)", now: now, random: random)
        case .message(let message):
            return handle(message, now: now, random: random, actions: &actions)
        }
        return nil
    }

    private mutating func handle(_ message: Message, now: Int64, random: UInt64, actions: inout [AgentAction]) -> TunnelRequest? {
        switch (message, link.isUp) {
        case (.error(let code, let text), _):
            if code == .invalidTicket { needsFreshTicket = true }
            actions += fail("streampoint refused us: \(code.name): \(text)", now: now, random: random)
        case (.helloAck, false) where !registered:
            guard let assignment else { return nil }
            registered = true
            actions.append(.send(link.id, Message.streamRegister(ticket: assignment.ticket, targets: targets).encoded()))
        case (.streamRegistered(let id), false) where registered:
            link.markUp(now: now)
            actions.append(.log(.info, "streampoint: registered with \(id) at \(link.address?.display ?? "?")"))
            registeredAs = id
            if let reachedAddress {
                self.assignment?.address.knownAddress = reachedAddress
                link.noteKnownAddress(reachedAddress)
            }
        case (.heartbeat, true):
            break
        case (.tunnelOpen(let id, let host, let port, let token), true):
            return TunnelRequest(tunnelID: id, host: host, port: port, bindToken: token)
        default:
            // Includes TUNNEL_OPEN before registration: a server must not ask for tunnels it has not admitted.
            let text = "unexpected \(message.name)"
            actions.append(.send(link.id, Message.error(code: .unexpectedMessage, message: text).encoded()))
            actions += fail("streampoint sent \(text)", now: now, random: random)
        }
        return nil
    }

    mutating func send(_ message: Message, now: Int64) -> [AgentAction] {
        guard link.isUp else { return [] }
        link.noteSent(now: now)
        return [.send(link.id, message.encoded())]
    }

    mutating func tick(now: Int64, random: UInt64) -> [AgentAction] {
        switch link.tick(now: now) {
        case .nothing:
            return dialIfDue(now: now)
        case .sendHeartbeat:
            return send(.heartbeat, now: now)
        case .expired(let reason):
            return fail(reason, now: now, random: random)
        }
    }
}
