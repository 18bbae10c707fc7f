import CamCore
import CamProtocol
import Testing

/// boot_jitter_ms: only a cold boot (system up under a minute) delays the first dial.
@Suite struct BootJitterTests {
    /// When agent `id` first dials the endpoint after starting at `start`, with a manual clock.
    func firstDial(id: String = "cam-1", uptimeMs: Int64?, jitterMs: Int64 = 3000, seed: UInt64 = 1) -> Int64? {
        var config = testConfig()
        config.identity = AgentIdentity(agentID: id, deviceKey: testKey)
        config.bootJitterMs = jitterMs
        var core = AgentCore(config: config, entropy: SeededEntropy(seed: seed))
        let start: Int64 = 1_000_000
        if connects(core.start(now: start, uptimeMs: uptimeMs)).contains(where: { $0.0 == .endpoint }) { return 0 }
        var now = start
        for _ in 0..<20 {
            guard let deadline = core.nextDeadline else { return nil }
            #expect(deadline > now)
            now = deadline
            if connects(core.tick(now: now)).contains(where: { $0.0 == .endpoint }) { return now - start }
        }
        return nil
    }

    @Test func aColdBootDelaysTheFirstDialWithinTheWindow() {
        let delay = firstDial(uptimeMs: 4_000)
        #expect(delay != nil)
        #expect((delay ?? -1) >= 0 && (delay ?? .max) < 3000)
    }

    @Test func aProcessRestartOnASystemUpAMinuteDialsAtOnce() {
        #expect(firstDial(uptimeMs: 60_000) == 0)
        #expect(firstDial(uptimeMs: 86_400_000) == 0)
        #expect(firstDial(uptimeMs: nil) == 0)  // uptime unknown
        #expect(firstDial(uptimeMs: -1) == 0)
    }

    @Test func zeroTurnsItOff() {
        #expect(firstDial(uptimeMs: 1_000, jitterMs: 0) == 0)
    }

    @Test func aFleetBootingTogetherSpreadsOverTheWholeWindow() {
        var buckets = [Int](repeating: 0, count: 6)  // 500 ms each
        for n in 0..<600 {
            let delay = firstDial(id: "cam-\(n)", uptimeMs: 2_000, seed: UInt64(n)) ?? -1
            #expect(delay >= 0 && delay < 3000, "agent \(n): \(delay)")
            if delay >= 0 && delay < 3000 { buckets[Int(delay / 500)] += 1 }
        }
        // Even spread: 100 per bucket; lockstep would put all 600 in one.
        #expect(buckets.allSatisfy { $0 >= 50 && $0 <= 150 }, "\(buckets)")
    }

    @Test func theColdBootIsLogged() {
        var core = AgentCore(config: testConfig(), entropy: SeededEntropy(seed: 3))
        let started = core.start(now: 0, uptimeMs: 12_000)
        #expect(logs(started).contains { $0.contains("cold boot") && $0.contains("first dial in") })
    }
}
