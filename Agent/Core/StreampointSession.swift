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
struct StreampointSession: Sendable, ControlLinkOwner {
    var link: ControlLink
    let slot: StreampointSlot
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
    /// Tickets this streampoint refused since the link last registered.
    private var ticketRefusals = 0
    private let targets: [TunnelTarget]

    init(config: AgentConfig, slot: StreampointSlot) {
        self.slot = slot
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

    /// The same server only refreshes the ticket, keeping the backoff
    /// schedule. A new ticket after the first refusal is tried at once (it may
    /// just have expired on the way); after repeated refusals each attempt
    /// waits out the backoff, so a streampoint that refuses every ticket cannot
    /// make us spin (PROTOCOL.md §6.3). Another server replaces the current
    /// link and is dialled at once.
    mutating func assign(_ new: StreampointAssignment, now: Int64) -> Output<StreampointEvent> {
        let sameServer = serves(new)
        let newTicketAfterOneRefusal = needsFreshTicket && ticketRefusals == 1 && assignment?.ticket != new.ticket
        assignment = new
        needsFreshTicket = false
        if sameServer {
            guard link.isDown else { return Output() }
            if newTicketAfterOneRefusal { link.retryNow() }
            return dialIfDue(now: now)
        }
        var out = Output<StreampointEvent>()
        out += link.shutDown()
        registered = false
        ticketRefusals = 0
        link.backoff.reset()
        link.retryNow()
        out += dialIfDue(now: now)
        return out
    }

    /// Points the (down) link at another server without resetting the backoff:
    /// the next dial goes there when the current delay is over.
    mutating func redirect(to new: StreampointAssignment) {
        assignment = new
        needsFreshTicket = false
        ticketRefusals = 0
    }

    mutating func retryNow() { link.retryNow() }

    /// Leaves the streampoint and forgets it.
    mutating func clear() -> Output<StreampointEvent> {
        assignment = nil
        registered = false
        needsFreshTicket = false
        ticketRefusals = 0
        var out = Output<StreampointEvent>()
        out += link.shutDown()
        return out
    }

    mutating func dialIfDue(now: Int64) -> Output<StreampointEvent> {
        guard let assignment, !needsFreshTicket, link.mayDial(now: now) else { return Output() }
        registered = false
        var out = Output<StreampointEvent>()
        out += link.dial(assignment.address, now: now)
        return out
    }

    mutating func connected(now: Int64, addresses: SocketAddresses?) -> Output<StreampointEvent> {
        reachedAddress = addresses.flatMap { isNumericAddress($0.peer) ? $0.peer : nil }
        var out = Output<StreampointEvent>()
        out += link.connected(now: now)
        return out
    }

    mutating func feed(_ bytes: [UInt8], now: Int64) -> [LinkInput] { link.feed(bytes, now: now) }

    mutating func fail<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E,
                                         closeSocket: Bool) -> Output<StreampointEvent> {
        registered = false
        var out = Output<StreampointEvent>()
        out += link.fail(reason, now: now, entropy: &entropy, closeSocket: closeSocket)
        return out
    }

    mutating func handle<E: EntropySource>(_ message: Message, now: Int64, entropy: inout E) -> Output<StreampointEvent> {
        var out = Output<StreampointEvent>()
        switch (message, link.isUp) {
        case (.error(let code, let text), _):
            if code == .invalidTicket {
                needsFreshTicket = true
                ticketRefusals += 1
            }
            out += fail("streampoint refused us: \(code.name): \(LogText.peer(text))", now: now, entropy: &entropy)
        case (.helloAck, false) where !registered:
            guard let assignment else { break }
            registered = true
            out.append(.send(link.id, Message.streamRegister(ticket: assignment.ticket, targets: targets).encoded()))
        case (.streamRegistered(let id), false) where registered:
            link.markUp(now: now)
            ticketRefusals = 0
            out.append(.log(.info, "streampoint: registered with \(LogText.peer(id)) at \(link.address?.display ?? "?")"))
            registeredAs = id
            if let reachedAddress {
                self.assignment?.address.knownAddress = reachedAddress
                link.noteKnownAddress(reachedAddress)
            }
        case (.heartbeat, true):
            break
        case (.tunnelOpen(let id, let host, let port, let token), true):
            out.emit(.tunnelRequested(TunnelRequest(tunnelID: id, host: host, port: port, bindToken: token), slot))
        default:
            // Includes TUNNEL_OPEN before registration: a server must not ask for tunnels it has not admitted.
            out += refuseUnexpected(message, now: now, entropy: &entropy)
        }
        return out
    }

    mutating func tick<E: EntropySource>(now: Int64, entropy: inout E) -> Output<StreampointEvent> {
        tickLink(now: now, entropy: &entropy)
    }
}
