/// Failed console logins, limited per operator name and per source address,
/// so that guessing passwords is slow whichever of the two an attacker varies.
/// Pure: time is a parameter (monotonic seconds). Memory is bounded: each table
/// keeps at most `capacity` keys; a full table first drops keys whose window
/// and block are over, then the oldest.
public struct LoginThrottle: Sendable {
    public struct Rule: Sendable, Equatable {
        /// This many failures within `window` seconds…
        public var maxFailures: Int
        public var window: Double
        /// …refuse further attempts for this many seconds.
        public var penalty: Double

        public init(maxFailures: Int, window: Double, penalty: Double) {
            self.maxFailures = maxFailures
            self.window = window
            self.penalty = penalty
        }
    }

    public static let perName = Rule(maxFailures: 5, window: 60, penalty: 60)
    /// Higher: operators behind one NAT share an address.
    public static let perAddress = Rule(maxFailures: 20, window: 60, penalty: 60)

    struct Entry {
        var windowStart: Double
        var failures: Int
        var blockedUntil: Double
    }

    let nameRule: Rule
    let addressRule: Rule
    let capacity: Int
    private var byName: [String: Entry] = [:]
    private var byAddress: [String: Entry] = [:]

    public init(perName: Rule = LoginThrottle.perName, perAddress: Rule = LoginThrottle.perAddress, capacity: Int = 4096) {
        nameRule = perName
        addressRule = perAddress
        self.capacity = capacity
    }

    /// Seconds until an attempt for `name` from `address` may be checked; 0 means now.
    public func retryAfter(name: String, address: String, now: Double) -> Double {
        max(0, (byName[name]?.blockedUntil ?? 0) - now, (byAddress[address]?.blockedUntil ?? 0) - now)
    }

    public mutating func recordFailure(name: String, address: String, now: Double) {
        Self.count(&byName, key: name, rule: nameRule, capacity: capacity, now: now)
        Self.count(&byAddress, key: address, rule: addressRule, capacity: capacity, now: now)
    }

    /// A correct password: the name's failures are forgotten; the address's stay.
    public mutating func recordSuccess(name: String) {
        byName[name] = nil
    }

    private static func count(_ table: inout [String: Entry], key: String, rule: Rule, capacity: Int, now: Double) {
        if table[key] == nil && table.count >= capacity {
            table = table.filter { $0.value.blockedUntil > now || now - $0.value.windowStart < rule.window }
            if table.count >= capacity {
                let oldest = table.sorted { $0.value.windowStart < $1.value.windowStart }.prefix(capacity / 8 + 1)
                for (victim, _) in oldest { table[victim] = nil }
            }
        }
        var entry = table[key] ?? Entry(windowStart: now, failures: 0, blockedUntil: 0)
        // Attempts during a block are refused before they get here; one already
        // past the check does not lengthen it.
        guard entry.blockedUntil <= now else { return }
        if now - entry.windowStart >= rule.window {
            entry.windowStart = now
            entry.failures = 0
        }
        entry.failures += 1
        if entry.failures >= rule.maxFailures {
            entry.blockedUntil = now + rule.penalty
            entry.failures = 0
            entry.windowStart = now + rule.penalty
        }
        table[key] = entry
    }
}
