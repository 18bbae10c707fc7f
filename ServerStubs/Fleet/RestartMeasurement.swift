import Foundation

/// How many endpoint connection attempts per 100 ms the agents' backoff
/// allows when all N lose the endpoint at the same instant (Agent/Core/Backoff.swift).
///
/// After a lost session an agent waits a uniform random delay in [I/2, I]
/// (I = initial backoff), so the first wave arrives at N / (I/2 ms) per ms:
/// N*100/(I/2) per 100 ms. Each failed attempt doubles the range: wave k is
/// spread over 2^(k-1) times as long, so waves 2, 3, ... together add at most
/// the first wave's rate again (1/2 + 1/4 + ...). The bound is twice the first
/// wave plus four standard deviations of the binomial noise of one 100 ms; it
/// can never be above N. Agents in lockstep would reach N in one 100 ms.
struct AttemptRateBound {
    let agents: Int
    let initialBackoffMs: Int64

    var firstWavePer100ms: Double { min(Double(agents), Double(agents) * 100 / (Double(initialBackoffMs) / 2)) }

    var limit: Int {
        let design = 2 * firstWavePer100ms
        return min(agents, Int((design + 4 * design.squareRoot()).rounded(.up)))
    }

    /// Whether the bound is below N, i.e. whether it can tell jitter from lockstep at all.
    var distinguishesLockstep: Bool { limit < agents }
}

/// The endpoint restart: wait for the agents to lose the endpoint (someone
/// kills it), then for every one to be authenticated again; report and check.
struct RestartMeasurement {
    let recorder: FleetRecorder
    let count: Int
    let initialBackoffMs: Int64

    func run(timeoutMs: Int64) -> Bool {
        let start = FleetClock.nowMs()
        recorder.watchEndpointLoss(now: start)
        say("ready for the endpoint restart: kill the endpoint and start it again on the same address")
        var nextReport = start + 1000
        var attemptsReported = recorder.snapshot().endpointAttempts.reduce(0, +)
        var finished = false
        while !finished {
            let now = FleetClock.nowMs()
            let snapshot = recorder.snapshot()
            finished = snapshot.lostCount == count && snapshot.backCount == count
            if !finished && now - start >= timeoutMs {
                say(snapshot.lostCount == 0
                    ? "FAILED: no agent lost the endpoint within \(Report.seconds(timeoutMs)); was it restarted?"
                    : "FAILED: after \(Report.seconds(now - start)) \(snapshot.lostCount) agents lost the endpoint and only \(snapshot.backCount) are back")
                report()
                return false
            }
            if now >= nextReport && snapshot.lostCount > 0 {
                let attempts = snapshot.endpointAttempts.reduce(0, +)
                say("restart \(Report.seconds(now - start)): \(snapshot.lostCount) lost the endpoint, \(snapshot.backCount) back; "
                    + "\(attempts - attemptsReported) attempts in the last second")
                attemptsReported = attempts
            }
            if now >= nextReport { nextReport += 1000 }
            if !finished { Thread.sleep(forTimeInterval: 0.05) }
        }
        return report()
    }

    /// Prints the histograms and the result line; true if no storm and everyone is back.
    @discardableResult
    private func report() -> Bool {
        let outage = recorder.outage()
        let snapshot = recorder.snapshot()
        guard let firstLoss = outage.firstLoss else { return false }
        let reconnect = outage.reconnectMs.sorted()
        let firstBucket = Int((firstLoss - recorder.origin) / FleetRecorder.bucketMs)
        let lastBucket = max(firstBucket, snapshot.endpointAttempts.count - 1)
        let window = firstBucket < snapshot.endpointAttempts.count ? Array(snapshot.endpointAttempts[firstBucket...]) : []
        let peak = window.max() ?? 0
        let attempts = window.reduce(0, +)
        let bound = AttemptRateBound(agents: count, initialBackoffMs: initialBackoffMs)

        say("reconnect times after the endpoint restart (loss to authenticated again), \(outage.back) of \(outage.lost) agents:")
        for line in Report.durationHistogram(reconnect) { say(line) }
        say("endpoint connection attempts per 100 ms (the attempt rate):")
        for line in Report.attemptTimeline(snapshot.endpointAttempts, first: firstBucket, last: lastBucket) { say(line) }
        say("attempts each agent needed to get back: \(Report.attemptCounts(outage.attempts))")
        // The spread of the first delay is the jitter itself: the attempt rate can
        // also be flattened by a fleet too slow to process 10,000 losses at once,
        // this cannot.
        let firstRetry = outage.firstRetryDelayMs.sorted()
        let retryP10 = Report.percentile(firstRetry, 0.1), retryP90 = Report.percentile(firstRetry, 0.9)
        say("first reconnect attempt after the loss: p10 \(retryP10) ms, p50 \(Report.percentile(firstRetry, 0.5)) ms, "
            + "p90 \(retryP90) ms (spread \(retryP90 - retryP10) ms; the design spreads it over [\(initialBackoffMs / 2), \(initialBackoffMs)] ms, "
            + "lockstep would be about 0)")
        let allBackMs = outage.lastReturn.map { $0 - firstLoss } ?? -1
        say("reconnect: p50 \(Report.seconds(Report.percentile(reconnect, 0.5))), p90 \(Report.seconds(Report.percentile(reconnect, 0.9))), "
            + "p99 \(Report.seconds(Report.percentile(reconnect, 0.99))), max \(Report.seconds(reconnect.last ?? 0)); "
            + "all back \(Report.seconds(allBackMs)) after the first loss")
        say(String(format: "peak attempt rate %d per 100 ms; design bound %d (first wave %.0f per 100 ms), lockstep would be %d",
                   peak, bound.limit, bound.firstWavePer100ms, count))
        if outage.streampointLosses > 0 {
            say("note: \(outage.streampointLosses) streampoint links dropped during the measurement")
        }
        say("result restart agents=\(count) lost=\(outage.lost) back=\(outage.back) "
            + "p50_ms=\(Report.percentile(reconnect, 0.5)) p99_ms=\(Report.percentile(reconnect, 0.99)) "
            + "max_ms=\(reconnect.last ?? -1) all_back_ms=\(allBackMs) attempts=\(attempts) "
            + "peak_attempts_per_100ms=\(peak) bound_per_100ms=\(bound.limit) streampoint_losses=\(outage.streampointLosses) "
            + "first_retry_p10_ms=\(retryP10) first_retry_p90_ms=\(retryP90)")
        var good = outage.back == count && outage.lost == count
        if peak > bound.limit {
            say("FAILED: reconnect storm: \(peak) attempts in one 100 ms, above the design bound of \(bound.limit)")
            good = false
        }
        if !bound.distinguishesLockstep {
            say("warning: with \(count) agents and a \(initialBackoffMs) ms initial backoff the bound cannot tell jitter from lockstep")
        }
        if !outage.missing.isEmpty && outage.lost > 0 {
            let shown = outage.missing.prefix(5).map { "#\($0 + 1)" }.joined(separator: ", ")
            say("not back: \(outage.missing.count) agents (\(shown)\(outage.missing.count > 5 ? ", ..." : ""))")
        }
        return good
    }
}
