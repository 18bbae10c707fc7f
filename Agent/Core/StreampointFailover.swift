import CamProtocol

/// The endpoint's choice of streampoints for this agent.
public struct StreampointPlan: Equatable, Sendable {
    public var main: StreampointAssignment
    public var backup: StreampointAssignment?

    public init(main: StreampointAssignment, backup: StreampointAssignment?) {
        self.main = main
        self.backup = backup
    }
}

/// What the streampoint side reports up to AgentCore.
enum StreampointEvent: Equatable, Sendable, ControlLinkEvent {
    /// A streampoint broke the protocol (counted in AGENT_STATS).
    case protocolError
    case tunnelRequested(TunnelRequest, StreampointSlot)
    /// A streampoint accepted our registration.
    case registered(streampointID: String)
    /// A switch finished: the old slot's control link is closed; its tunnels
    /// get the grace period.
    case switchedAway(from: StreampointSlot)
    /// The streampoint refused our ticket: the endpoint must send a fresh one.
    case needsTicket
}

/// Main/backup streampoint failover and make-before-break switching over two
/// StreampointSession slots. A switch ordered by the endpoint dials the new
/// streampoint in the idle slot while the active one keeps serving; only when
/// the new one has registered is the old control link closed. A streampoint
/// that dies is replaced by the other one of the plan at once.
struct StreampointFailover: Sendable {
    private var slots: [StreampointSession]
    private(set) var active = StreampointSlot.a
    /// The slot dialling the new streampoint of a switch, while `active` serves.
    private(set) var incoming: StreampointSlot?
    private(set) var plan: StreampointPlan?
    private(set) var onBackup = false
    private let allowPlaintext: Bool
    /// Without a CA there is nothing to check a TLS server's certificate against.
    private let canVerifyTLS: Bool
    /// Streampoint id → the address it last accepted us on (a few entries;
    /// a fresh assignment for the same streampoint starts with it).
    private var knownAddresses: [(String, String)] = []

    init(config: AgentConfig) {
        slots = [StreampointSession(config: config, slot: .a), StreampointSession(config: config, slot: .b)]
        allowPlaintext = config.allowPlaintext
        canVerifyTLS = config.caFile != nil
    }

    func session(_ slot: StreampointSlot) -> StreampointSession { slots[slot.rawValue] }

    var activeSession: StreampointSession { slots[active.rawValue] }

    var linkState: StreampointLinkState {
        if activeSession.link.isUp { return .registered }
        return activeSession.assignment == nil ? .none : .connecting
    }

    /// The id of the streampoint serving us, or the one being dialled.
    var currentID: String { activeSession.assignment?.streampointID ?? "" }

    mutating func adoptTimers(heartbeatMs: Int64, peerTimeoutMs: Int64) {
        for index in 0..<slots.count { slots[index].adoptTimers(heartbeatMs: heartbeatMs, peerTimeoutMs: peerTimeoutMs) }
    }

    var nextDeadline: Int64? {
        var earliest: Int64?
        for session in slots where session.assignment != nil && !session.needsFreshTicket {
            if let d = session.link.deadline { earliest = earliest.map { $0 < d ? $0 : d } ?? d }
        }
        return earliest
    }

    // MARK: - Orders from the endpoint

    mutating func assign(_ new: StreampointPlan, now: Int64) -> Output<StreampointEvent> {
        // The endpoint cannot downgrade us: plain TCP needs the local config's consent.
        guard new.main.address.tls || allowPlaintext else {
            return Output([.log(.error, "streampoint: \(new.main.streampointID) at \(new.main.address.display) is plain TCP "
                + "and allow_plaintext is off; not connecting")]) + leaveAll()
        }
        // Legal with http:// endpoints and no ca_file; dialling would only fail forever.
        guard !new.main.address.tls || canVerifyTLS else {
            return Output([.log(.error, "streampoint: \(new.main.streampointID) at \(new.main.address.display) speaks TLS, "
                + "but this unit has no ca_file to check its certificate against; not connecting (set ca_file)")]) + leaveAll()
        }
        var checked = new
        checked.main.address.knownAddress = known(checked.main.streampointID)
        let backupKnown = new.backup.flatMap { known($0.streampointID) }
        checked.backup?.address.knownAddress = backupKnown
        if let backup = new.backup, !(backup.address.tls || allowPlaintext) || (backup.address.tls && !canVerifyTLS)
            || backup.streampointID == new.main.streampointID {
            checked.backup = nil
        }
        plan = checked
        onBackup = false
        let target = checked.main
        if let incoming {
            if slots[active.rawValue].serves(target) {
                // Switched back before the new one came up: stay where we are.
                var out = slots[incoming.rawValue].clear()
                self.incoming = nil
                out += slots[active.rawValue].assign(target, now: now)
                return out
            }
            return slots[incoming.rawValue].assign(target, now: now)
        }
        if slots[active.rawValue].serves(target) {
            return slots[active.rawValue].assign(target, now: now)
        }
        if slots[active.rawValue].link.isUp {
            let next = active.other
            incoming = next
            let from = currentID
            return Output([.log(.info, "streampoint: switching from \(from) to \(target.streampointID) at \(target.address.display); "
                               + "\(from) keeps serving until \(target.streampointID) has registered")])
                + slots[next.rawValue].assign(target, now: now)
        }
        return Output([.log(.info, "streampoint: assigned \(target.streampointID) at \(target.address.display)")])
            + slots[active.rawValue].assign(target, now: now)
    }

    /// Leaves every streampoint and forgets the plan (disconnect, reset, a plain-TCP refusal).
    mutating func leaveAll() -> Output<StreampointEvent> {
        plan = nil
        incoming = nil
        onBackup = false
        return slots[0].clear() + slots[1].clear()
    }

    // MARK: - Link events

    mutating func connected(_ slot: StreampointSlot, now: Int64, addresses: SocketAddresses?) -> Output<StreampointEvent> {
        slots[slot.rawValue].connected(now: now, addresses: addresses)
    }

    mutating func received<E: EntropySource>(_ slot: StreampointSlot, bytes: [UInt8], now: Int64,
                                             entropy: inout E) -> Output<StreampointEvent> {
        var out = Output<StreampointEvent>()
        for input in slots[slot.rawValue].feed(bytes, now: now) {
            let wasUp = slots[slot.rawValue].link.isUp
            out += slots[slot.rawValue].take(input, now: now, entropy: &entropy)
            let session = slots[slot.rawValue]
            if !wasUp && session.link.isUp {
                if let id = session.assignment?.streampointID, let address = session.assignment?.address.knownAddress {
                    remember(id, address)
                }
                out.emit(.registered(streampointID: session.registeredAs))
                if slot == incoming { out += finishSwitch() }
            }
            if session.link.isDown {
                out += afterFailure(slot, wasUp: wasUp, now: now)
                break
            }
        }
        return out
    }

    mutating func fail<E: EntropySource>(_ slot: StreampointSlot, _ reason: String, now: Int64, entropy: inout E,
                                         closeSocket: Bool) -> Output<StreampointEvent> {
        let wasUp = slots[slot.rawValue].link.isUp
        return slots[slot.rawValue].fail(reason, now: now, entropy: &entropy, closeSocket: closeSocket)
            + afterFailure(slot, wasUp: wasUp, now: now)
    }

    /// Each slot draws its own randomness: two links failing in one tick never share a delay.
    mutating func tick<E: EntropySource>(now: Int64, entropy: inout E) -> Output<StreampointEvent> {
        var out = Output<StreampointEvent>()
        for slot in [StreampointSlot.a, .b] where slots[slot.rawValue].assignment != nil {
            let wasUp = slots[slot.rawValue].link.isUp
            let wasDown = slots[slot.rawValue].link.isDown
            out += slots[slot.rawValue].tick(now: now, entropy: &entropy)
            if !wasDown && slots[slot.rawValue].link.isDown {
                out += afterFailure(slot, wasUp: wasUp, now: now)
            }
        }
        return out
    }

    mutating func send(_ message: Message, on slot: StreampointSlot, now: Int64) -> Output<StreampointEvent> {
        slots[slot.rawValue].send(message, now: now)
    }

    private func known(_ id: String) -> String? {
        for (knownID, address) in knownAddresses where knownID == id { return address }
        return nil
    }

    private mutating func remember(_ id: String, _ address: String) {
        knownAddresses.removeAll { $0.0 == id }
        if knownAddresses.count >= Tunables.knownStreampointAddresses { knownAddresses.removeFirst() }
        knownAddresses.append((id, address))
    }

    // MARK: - Policy

    private mutating func finishSwitch() -> Output<StreampointEvent> {
        guard let incoming else { return Output() }
        let old = active
        let oldID = slots[old.rawValue].assignment?.streampointID ?? "?"
        active = incoming
        self.incoming = nil
        var out = slots[old.rawValue].clear()
        out.append(.log(.info, "streampoint: switch to \(currentID) complete; left \(oldID)"))
        out.emit(.switchedAway(from: old))
        return out
    }

    /// A slot's link went down. A switch in progress just keeps retrying while
    /// the old streampoint serves. The active link moves between main and backup:
    /// at once when a working session was lost, otherwise after the usual
    /// backoff (alternating, so a dead main cannot keep us from the backup).
    private mutating func afterFailure(_ slot: StreampointSlot, wasUp: Bool, now: Int64) -> Output<StreampointEvent> {
        if slots[slot.rawValue].needsFreshTicket { return Output(event: .needsTicket) }
        guard slot == active, let plan, let backup = plan.backup else { return Output() }
        let lost = slots[slot.rawValue].assignment?.streampointID ?? "?"
        onBackup.toggle()
        let next = onBackup ? backup : plan.main
        slots[slot.rawValue].redirect(to: next)
        var out = Output<StreampointEvent>()
        if wasUp {
            slots[slot.rawValue].retryNow()
            out.append(.log(.warn, "streampoint: lost \(lost); moving to \(onBackup ? "backup" : "main") "
                            + "\(next.streampointID) at \(next.address.display)"))
            out += slots[slot.rawValue].dialIfDue(now: now)
        } else {
            out.append(.log(.info, "streampoint: \(lost) unreachable; next attempt goes to "
                            + "\(onBackup ? "backup" : "main") \(next.streampointID)"))
        }
        return out
    }
}
