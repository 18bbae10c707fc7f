import CamProtocol

/// What an admin request waits for from an agent.
enum AwaitedAnswer: Equatable {
    /// COMMAND_RESULT with this entry's command id.
    case commandResult(CommandKind)
    /// The next AGENT_STATS after a STATS_REQUEST.
    case stats

    var name: String {
        switch self {
        case .commandResult(let kind): return kind.name
        case .stats: return "stats"
        }
    }
}

/// Admin requests waiting for an agent's answer, keyed by command id. Pure and
/// generic over the waiter (a promise in the server, anything in tests).
/// Bounded: when `capacity` requests wait, new ones are refused rather than
/// letting a stuck agent or a busy script grow the table.
struct PendingCommands<Waiter> {
    struct Entry {
        var commandID: UInt32
        var agentID: String
        var awaiting: AwaitedAnswer
        var waiter: Waiter
    }

    let capacity: Int
    private(set) var entries: [UInt32: Entry] = [:]
    /// Ids are unique for the life of the process until they wrap after 2^32 − 1
    /// commands, and never reuse one still waiting.
    private var lastID: UInt32 = 0

    init(capacity: Int = 256) {
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// Registers a waiter and returns its command id; nil when the table is full.
    mutating func add(agentID: String, awaiting: AwaitedAnswer, waiter: Waiter) -> UInt32? {
        guard entries.count < capacity else { return nil }
        repeat {
            lastID &+= 1
        } while lastID == 0 || entries[lastID] != nil
        entries[lastID] = Entry(commandID: lastID, agentID: agentID, awaiting: awaiting, waiter: waiter)
        return lastID
    }

    /// The waiter of a COMMAND_RESULT. Only the agent the command went to can
    /// answer it; a result for an id it was not sent is ignored (nil).
    mutating func resolveCommand(agentID: String, commandID: UInt32) -> Entry? {
        guard let entry = entries[commandID], entry.agentID == agentID,
              case .commandResult = entry.awaiting else { return nil }
        entries[commandID] = nil
        return entry
    }

    /// Every stats request of `agentID` waiting; one AGENT_STATS answers them all.
    mutating func resolveStats(agentID: String) -> [Entry] {
        take { $0.agentID == agentID && $0.awaiting == .stats }
    }

    /// Removes one entry (its time ran out); nil if already answered.
    mutating func remove(commandID: UInt32) -> Entry? {
        entries.removeValue(forKey: commandID)
    }

    /// Every entry of an agent whose session ended: no answer can come any more.
    mutating func removeAll(agentID: String) -> [Entry] {
        take { $0.agentID == agentID }
    }

    private mutating func take(where matches: (Entry) -> Bool) -> [Entry] {
        let taken = entries.values.filter(matches).sorted { $0.commandID < $1.commandID }
        for entry in taken { entries[entry.commandID] = nil }
        return taken
    }
}

/// Units that confirmed a `reset` and may therefore activate again once, even
/// while their old session still looks online, within `lifetime` seconds.
/// Without this the clone protection (identity-conflict while the unit's agent
/// is online, docs/PROTOCOL.md §5.6) would refuse the unit's own legitimate
/// re-activation, which follows the reset at once. Bounded: the oldest grant
/// goes when `capacity` are outstanding.
struct ResetAllowances {
    let lifetime: Double
    let capacity: Int
    private var expiry: [String: Double] = [:]

    init(lifetime: Double = 120, capacity: Int = 1024) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    var count: Int { expiry.count }

    mutating func grant(serial: String, now: Double) {
        expiry = expiry.filter { $0.value > now }
        if expiry[serial] == nil, expiry.count >= capacity, let oldest = expiry.min(by: { $0.value < $1.value }) {
            expiry[oldest.key] = nil
        }
        expiry[serial] = now + lifetime
    }

    /// True (and the grant is used up) if `serial` may re-activate now.
    mutating func consume(serial: String, now: Double) -> Bool {
        guard let until = expiry.removeValue(forKey: serial) else { return false }
        return now < until
    }

    func isGranted(serial: String, now: Double) -> Bool {
        expiry[serial].map { now < $0 } ?? false
    }
}
