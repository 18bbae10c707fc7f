/// Failed attempts counted per key (an agent id, an address, an operator name)
/// in a time window; too many start a block. The one rule behind the agents'
/// login limiter and the console's login throttle. Pure: time is a parameter
/// (monotonic seconds). Memory is bounded: at most `capacity` keys; a new key
/// at a full table first drops keys whose window and block are over, then the
/// least recently touched eighth, so a flood of fresh keys costs O(capacity).
public struct FailureWindows: Sendable {
    public struct Rule: Equatable, Sendable {
        /// This many failures within `window` seconds start a block…
        public var maxFailures: Int
        public var window: Double
        /// …that refuses attempts for this many seconds.
        public var penalty: Double

        public init(maxFailures: Int, window: Double, penalty: Double) {
            self.maxFailures = maxFailures
            self.window = window
            self.penalty = penalty
        }
    }

    struct Entry: Equatable, Sendable {
        var windowStart: Double
        var failures: Int
        var blockedUntil: Double
        var touched: Double
    }

    public let rule: Rule
    public let capacity: Int
    private var entries: [String: Entry] = [:]

    public init(rule: Rule, capacity: Int) {
        self.rule = rule
        self.capacity = capacity
    }

    public var count: Int { entries.count }

    /// When the key's block ends; 0 if it has never been blocked.
    public func blockedUntil(_ key: String) -> Double { entries[key]?.blockedUntil ?? 0 }

    public func isBlocked(_ key: String, now: Double) -> Bool { blockedUntil(key) > now }

    public mutating func recordFailure(_ key: String, now: Double) {
        if entries[key] == nil {
            if entries.count >= capacity {
                let rule = self.rule
                entries = entries.filter { $0.value.blockedUntil > now || now - $0.value.windowStart < rule.window }
                if entries.count >= capacity { Self.evictOldest(&entries, capacity: capacity, touched: { $0.touched }) }
            }
            entries[key] = Entry(windowStart: now, failures: 0, blockedUntil: 0, touched: now)
        }
        var entry = entries[key]!
        entry.touched = now
        // An attempt already past the check when the block began does not lengthen it.
        if entry.blockedUntil <= now {
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
        }
        entries[key] = entry
    }

    /// A success: the key's failures are forgotten.
    public mutating func forget(_ key: String) {
        entries[key] = nil
    }

    /// Drops the least recently touched entries down to 7/8 of `capacity`, so
    /// the sort runs once per capacity/8 insertions, not on every one.
    public static func evictOldest<V>(_ table: inout [String: V], capacity: Int, touched: (V) -> Double) {
        let keep = capacity - max(1, capacity / 8)
        guard table.count > keep else { return }
        let victims = table.sorted { touched($0.value) < touched($1.value) }.prefix(table.count - keep)
        for (key, _) in victims { table[key] = nil }
    }
}
