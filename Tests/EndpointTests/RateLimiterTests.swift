@testable import EndpointCore
import CamProtocol
import Testing

@Suite struct FailureLimiterTests {
    let goodKey = (0..<32).map { UInt8($0) }

    func endpointWithAgent(limits: FailureLimiter.Configuration = .init()) -> TestEndpoint {
        let endpoint = TestEndpoint(limits: limits)
        endpoint.registry.upsert(AgentRecord(id: "cam-good", verifier: Hex.encode(Authentication.verifier(deviceKey: goodKey, agentID: "cam-good")),
                                             streampoint: nil))
        return endpoint
    }

    /// One bad AUTH attempt (wrong key) for `agentID` from `host`, driven through the state machine.
    func badAttempt(_ endpoint: TestEndpoint, agentID: String, host: String) -> EndpointLinkStateMachine.Action {
        authenticate(agentID, key: [UInt8](repeating: 0xEE, count: 32), against: endpoint, from: host)
    }

    @Test func aThousandBadAttemptsFromOneAddressKeepTheTablesTinyAndTheGoodAgentGetsIn() {
        let endpoint = endpointWithAgent()
        var failed = 0, limited = 0
        for i in 0..<1000 {
            // Mixed: the good agent's id and a fresh id each time, 5 ms apart.
            let id = i % 2 == 0 ? "cam-good" : "cam-guess-\(i)"
            let action = badAttempt(endpoint, agentID: id, host: "203.0.113.66")
            switch action {
            case .attemptFailed: failed += 1
            case .closeWithError(.rateLimited, let text, _):
                limited += 1
                #expect(text == "too many failed attempts; retry later")
            default: Issue.record("unexpected \(action)")
            }
            endpoint.now += 0.005
        }
        // Once the address is blocked, attempts are refused without checking.
        #expect(failed <= 30)
        #expect(limited == 1000 - failed)
        let sizes = endpoint.limiter.tableSizes
        #expect(sizes.ids <= 31 && sizes.addresses == 1)

        // The good agent, from another address, is not locked out by the address
        // block. cam-good's own id block (10 of the failures were for it) holds
        // for 15 s from the 10th failure, then lifts.
        let early = authenticate("cam-good", key: goodKey, against: endpoint, from: "192.0.2.10")
        #expect(early.isError(.rateLimited, containing: "retry later"))
        endpoint.now += 10.1  // 15 s after the 10th failure (at 0.09 s)
        guard case .authenticated = authenticate("cam-good", key: goodKey, against: endpoint, from: "192.0.2.10") else {
            Issue.record("still locked out after the penalty"); return
        }
        // An agent whose id the attacker never named was never affected.
        endpoint.registry.upsert(AgentRecord(id: "cam-other", verifier: Hex.encode(Authentication.verifier(deviceKey: goodKey, agentID: "cam-other")),
                                             streampoint: nil))
        guard case .authenticated = authenticate("cam-other", key: goodKey, against: endpoint, from: "192.0.2.11") else {
            Issue.record("an unrelated agent was locked out"); return
        }
    }

    @Test func aKnownGoodAddressIsExemptFromItsIdsBlock() {
        let endpoint = endpointWithAgent()
        guard case .authenticated = authenticate("cam-good", key: goodKey, against: endpoint, from: "192.0.2.10") else {
            Issue.record("no login"); return
        }
        // An attacker elsewhere hammers cam-good until its id is blocked…
        for _ in 0..<10 { _ = badAttempt(endpoint, agentID: "cam-good", host: "203.0.113.66") }
        #expect(endpoint.limiter.block(for: AttemptSubject(kind: .agent, id: "cam-good", host: "198.51.100.1"), now: endpoint.now) == .id)
        // …but the agent, reconnecting from the address it last logged in from, gets in at once.
        guard case .authenticated = authenticate("cam-good", key: goodKey, against: endpoint, from: "192.0.2.10") else {
            Issue.record("the good agent was locked out"); return
        }
    }

    @Test func perIDLimitLiftsAfterItsPenalty() {
        var limiter = FailureLimiter()
        let attacker = AttemptSubject(kind: .agent, id: "cam-7", host: "203.0.113.1")
        let owner = AttemptSubject(kind: .agent, id: "cam-7", host: "192.0.2.7")
        var now = 100.0
        for _ in 0..<9 {
            limiter.recordFailure(attacker, now: now)
            now += 0.1
        }
        #expect(limiter.block(for: owner, now: now) == nil)
        limiter.recordFailure(attacker, now: now)  // the 10th within 10 s
        let blockedAt = now
        #expect(limiter.block(for: owner, now: now) == .id)
        #expect(limiter.block(for: attacker, now: now) == .id)  // the address itself is under its own limit
        // Refused attempts during the block do not extend it.
        for _ in 0..<50 { limiter.recordFailure(attacker, now: now + 5) }
        #expect(limiter.block(for: owner, now: blockedAt + 14.9) == .id)
        #expect(limiter.block(for: owner, now: blockedAt + 15) == nil)
        #expect(limiter.retryAfter(owner, now: blockedAt + 15) == 0)
    }

    @Test func failuresSpreadOverTimeNeverBlock() {
        var limiter = FailureLimiter()
        let subject = AttemptSubject(kind: .serial, id: "XM0001", host: "192.0.2.1")
        var now = 0.0
        // 9 failures per 10 s window, for a minute: under the limit.
        for _ in 0..<54 {
            limiter.recordFailure(subject, now: now)
            #expect(limiter.block(for: subject, now: now) == nil)
            now += 10.0 / 9.0 + 0.01
        }
    }

    @Test func perAddressLimitBlocksThatAddressOnly() {
        var limiter = FailureLimiter()
        for i in 0..<30 {
            limiter.recordFailure(AttemptSubject(kind: .agent, id: "cam-\(i)", host: "203.0.113.5"), now: 1)
        }
        #expect(limiter.block(for: AttemptSubject(kind: .agent, id: "cam-new", host: "203.0.113.5"), now: 1) == .address)
        #expect(limiter.block(for: AttemptSubject(kind: .agent, id: "cam-new", host: "203.0.113.6"), now: 1) == nil)
        #expect(limiter.block(for: AttemptSubject(kind: .agent, id: "cam-new", host: "203.0.113.5"), now: 16) == nil)
    }

    @Test func tablesNeverGrowPastTheirCapacity() {
        let capacity = 256
        var limiter = FailureLimiter(configuration: .init(capacity: capacity))
        // 1,000 failures from 1,000 addresses against 1,000 ids, all within one window,
        // and 1,000 successes: every table stays at or under its cap.
        for i in 0..<1000 {
            let subject = AttemptSubject(kind: .agent, id: "cam-\(i)", host: "10.0.\(i / 256).\(i % 256)")
            limiter.recordFailure(subject, now: Double(i) * 0.001)
            limiter.recordSuccess(AttemptSubject(kind: .serial, id: "S\(i)", host: "10.1.\(i / 256).\(i % 256)"), now: Double(i) * 0.001)
            let sizes = limiter.tableSizes
            #expect(sizes.ids <= capacity && sizes.addresses <= capacity && sizes.trusted <= capacity)
        }
        // The default cap is 4096 per table.
        #expect(FailureLimiter.Configuration().capacity == 4096)
    }

    @Test func peerTextCannotGrowTheTables() {
        let long = String(repeating: "x", count: 1000)
        let subject = AttemptSubject(kind: .agent, id: long, host: "192.0.2.1")
        #expect(subject.id == "(invalid)")
        #expect(AttemptSubject(kind: .agent, id: "bad id\n", host: "192.0.2.1").idKey == "agent:(invalid)")
    }

    @Test func addressKeys() {
        #expect(FailureLimiter.addressKey(host: "192.0.2.1") == "192.0.2.1")
        #expect(FailureLimiter.addressKey(host: "::ffff:192.0.2.1") == "192.0.2.1")
        #expect(FailureLimiter.addressKey(host: "2001:db8:1:2::1") == FailureLimiter.addressKey(host: "2001:db8:1:2:ffff::9"))
        #expect(FailureLimiter.addressKey(host: "2001:db8:1:2::1") == "2001:db8:1:2::/64")
        #expect(FailureLimiter.addressKey(host: "2001:db8:1:3::1") != FailureLimiter.addressKey(host: "2001:db8:1:2::1"))
    }

    @Test func rateLimitedAttemptsAreRefusedBeforeTheProofIsChecked() {
        let endpoint = endpointWithAgent()
        for i in 0..<30 { _ = badAttempt(endpoint, agentID: "cam-x\(i)", host: "203.0.113.9") }
        // Even the right key from that address is refused now, at AUTH_BEGIN already.
        var machine = endpoint.link(from: "203.0.113.9")
        let action = machine.messageReceived(.authBegin(agentID: "cam-good", clientNonce: [UInt8](repeating: 1, count: 32)),
                                             directory: endpoint)
        #expect(action.isError(.rateLimited, containing: "retry later"))
    }
}
