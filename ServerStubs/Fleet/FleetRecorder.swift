import CamCore
import Foundation
import NIOConcurrencyHelpers

/// What the whole fleet did, gathered from every agent's event loop under one
/// lock (a few updates per agent per connection: no contention worth a
/// lock-free design). Times are milliseconds of `FleetClock`.
final class FleetRecorder: @unchecked Sendable {
    static let bucketMs: Int64 = 100

    private let lock = NIOLock()
    let origin: Int64
    let count: Int

    private var endpointUp = 0
    private var streampointUp = 0
    private var firstUpAt: [Int64?]
    /// Connection attempts per 100 ms bucket since `origin`, endpoint links and others.
    private var endpointAttempts: [Int] = []
    private var otherAttempts: [Int] = []
    private var logs = LogSummary()

    /// Set by `watchEndpointLoss`: each agent's first loss of the endpoint after
    /// that moment, and its first return after the loss.
    private var watchingSince: Int64?
    private var lostAt: [Int64?]
    private var backAt: [Int64?]
    private var attemptsToReturn: [Int]
    /// Loss to the first new attempt: the agent's own first backoff delay, free
    /// of how long the fleet took to process the loss of 10,000 sockets.
    private var firstRetryDelay: [Int64?]
    private var lostCount = 0
    private var backCount = 0
    private var streampointLossesWhileWatching = 0

    init(count: Int, origin: Int64) {
        self.count = count
        self.origin = origin
        firstUpAt = Array(repeating: nil, count: count)
        lostAt = Array(repeating: nil, count: count)
        backAt = Array(repeating: nil, count: count)
        attemptsToReturn = Array(repeating: 0, count: count)
        firstRetryDelay = Array(repeating: nil, count: count)
    }

    // MARK: - Reports from the agents

    func attempt(agent: Int, toEndpoint: Bool, now: Int64) {
        let bucket = Int(max(0, now - origin) / Self.bucketMs)
        lock.withLock {
            if toEndpoint {
                Self.add(to: &endpointAttempts, bucket: bucket)
                if let lost = lostAt[agent], backAt[agent] == nil {
                    if attemptsToReturn[agent] == 0 { firstRetryDelay[agent] = now - lost }
                    attemptsToReturn[agent] += 1
                }
            } else {
                Self.add(to: &otherAttempts, bucket: bucket)
            }
        }
    }

    private static func add(to buckets: inout [Int], bucket: Int) {
        if buckets.count <= bucket { buckets += Array(repeating: 0, count: bucket - buckets.count + 1) }
        buckets[bucket] += 1
    }

    func endpointChanged(agent: Int, up: Bool, now: Int64) {
        lock.withLock {
            endpointUp += up ? 1 : -1
            if up {
                if firstUpAt[agent] == nil { firstUpAt[agent] = now }
                if lostAt[agent] != nil && backAt[agent] == nil {
                    backAt[agent] = now
                    backCount += 1
                }
            } else if watchingSince != nil && lostAt[agent] == nil {
                lostAt[agent] = now
                lostCount += 1
            }
        }
    }

    func streampointChanged(up: Bool) {
        lock.withLock {
            streampointUp += up ? 1 : -1
            if !up && watchingSince != nil { streampointLossesWhileWatching += 1 }
        }
    }

    func log(_ level: LogLevel, _ text: String) {
        lock.withLock { logs.add(level, text) }
    }

    // MARK: - Reading, from the controlling thread

    struct Snapshot {
        var endpointUp: Int
        var streampointUp: Int
        var endpointAttempts: [Int]
        var otherAttempts: [Int]
        var lostCount: Int
        var backCount: Int
    }

    func snapshot() -> Snapshot {
        lock.withLock {
            Snapshot(endpointUp: endpointUp, streampointUp: streampointUp, endpointAttempts: endpointAttempts,
                     otherAttempts: otherAttempts, lostCount: lostCount, backCount: backCount)
        }
    }

    /// From now on, record each agent's first loss of the endpoint and its return.
    func watchEndpointLoss(now: Int64) {
        lock.withLock { watchingSince = now }
    }

    struct Outage {
        /// Per agent that lost the endpoint: loss to authenticated again (ms), and
        /// the connection attempts that took; agents not back yet are left out.
        var reconnectMs: [Int64]
        var attempts: [Int]
        /// Per agent that lost the endpoint and tried again: loss to first attempt (ms).
        var firstRetryDelayMs: [Int64]
        var firstLoss: Int64?
        var lastReturn: Int64?
        var lost: Int
        var back: Int
        var streampointLosses: Int
        var missing: [Int]
    }

    func outage() -> Outage {
        lock.withLock {
            var result = Outage(reconnectMs: [], attempts: [], firstRetryDelayMs: firstRetryDelay.compactMap { $0 }, firstLoss: nil, lastReturn: nil, lost: lostCount,
                                back: backCount, streampointLosses: streampointLossesWhileWatching, missing: [])
            for agent in 0..<count {
                guard let lost = lostAt[agent] else {
                    result.missing.append(agent)
                    continue
                }
                result.firstLoss = min(result.firstLoss ?? lost, lost)
                guard let back = backAt[agent] else {
                    result.missing.append(agent)
                    continue
                }
                result.reconnectMs.append(back - lost)
                result.attempts.append(attemptsToReturn[agent])
                result.lastReturn = max(result.lastReturn ?? back, back)
            }
            return result
        }
    }

    /// Each agent's time from its start to its first authentication.
    func firstUpTimes(startedAt: [Int64]) -> [Int64] {
        lock.withLock {
            var times: [Int64] = []
            for agent in 0..<count { if let up = firstUpAt[agent] { times.append(up - startedAt[agent]) } }
            return times
        }
    }

    func logSummary() -> LogSummary { lock.withLock { logs } }
}

/// Agent log lines, counted instead of printed: 10,000 agents would bury any
/// terminal. Warnings and errors are grouped by their text with the numbers
/// taken out, so "retrying in 1.2 s" and "retrying in 0.7 s" count as one kind.
struct LogSummary {
    static let maxKinds = 64

    private(set) var countByLevel: [LogLevel: Int] = [:]
    private(set) var kinds: [String: (count: Int, example: String, level: LogLevel)] = [:]
    private(set) var uncategorised = 0

    mutating func add(_ level: LogLevel, _ text: String) {
        countByLevel[level, default: 0] += 1
        guard level >= .warn else { return }
        let key = Self.kind(of: text)
        if let existing = kinds[key] {
            kinds[key] = (existing.count + 1, existing.example, level)
        } else if kinds.count < Self.maxKinds {
            kinds[key] = (1, text, level)
        } else {
            uncategorised += 1
        }
    }

    /// The text with every number replaced by "#", and durations ("850 ms",
    /// "1.2 s", formatMillis's forms) by "#s".
    static func kind(of text: String) -> String {
        var result = ""
        var inNumber = false
        for character in text {
            let isDigit = character.isASCII && character.isNumber
            if isDigit || (inNumber && character == ".") {
                if !inNumber { result.append("#") }
                inNumber = true
            } else {
                result.append(character)
                inNumber = false
            }
        }
        return result.replacingOccurrences(of: "# ms", with: "#s").replacingOccurrences(of: "# s", with: "#s")
    }

    /// Lines for the final report, most frequent kind first.
    func lines() -> [String] {
        let levels: [LogLevel] = [.debug, .info, .warn, .error]
        var lines = ["agent log lines: " + levels.map { "\($0.label) \(countByLevel[$0] ?? 0)" }.joined(separator: ", ")]
        for (_, kind) in kinds.sorted(by: { $0.value.count > $1.value.count }) {
            lines.append("  \(kind.count)x \(kind.level.label): \(kind.example)")
        }
        if uncategorised > 0 { lines.append("  \(uncategorised)x other warnings (more than \(Self.maxKinds) kinds)") }
        return lines
    }
}
