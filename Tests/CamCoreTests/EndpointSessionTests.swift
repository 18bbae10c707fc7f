import CamCore
import CamProtocol
import Testing

@Suite struct EndpointSessionTests {
    @Test func startDialsTheMainEndpointAndPipelinesHello() {
        var h = Harness()
        let start = h.core.start(now: h.now)
        #expect(connects(start).map(\.0) == [.endpoint])
        #expect(connects(start).first?.1 == ServerAddress(host: "127.0.0.1", port: 7000))
        let connected = h.core.connected(.endpoint, now: h.now)
        guard case .send(.endpoint, let bytes)? = connected.last else { Issue.record("nothing sent"); return }
        #expect(bytes.starts(with: Array("GET /camagent/v1 HTTP/1.1\r\n".utf8)))
        #expect(sentMessages(connected, on: .endpoint) == [.hello(version: 1, role: .endpointControl, software: AgentVersion.software)])
    }

    @Test func mutualAuthenticationSucceeds() {
        var h = Harness()
        let done = h.authenticate()
        #expect(h.core.isEndpointUp)
        #expect(sentMessages(done, on: .endpoint).first?.kind == .agentInfo)
        #expect(logs(done).contains { $0.contains("authenticated") })
    }

    @Test func clientProofIsCorrectAndKeyNeverSent() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        var everything = h.core.connected(.endpoint, now: h.now)
        let begin = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        everything += begin
        guard case .authBegin(let id, let clientNonce) = sentMessages(begin, on: .endpoint).first else {
            Issue.record("no AUTH_BEGIN"); return
        }
        #expect(id == "cam-1")
        let serverNonce = [UInt8](repeating: 7, count: 32)
        let proofActions = h.receive(.endpoint, [.authChallenge(serverNonce: serverNonce)])
        everything += proofActions
        let expected = Authentication.clientProof(verifier: h.verifier, agentID: "cam-1", clientNonce: clientNonce, serverNonce: serverNonce)
        #expect(sentMessages(proofActions, on: .endpoint) == [.authProof(proof: expected)])
        // Neither the key nor the verifier appears in anything the agent sent or logged.
        for case .send(_, let bytes) in everything {
            #expect(!contains(bytes, testKey))
            #expect(!contains(bytes, h.verifier))
        }
        for text in logs(everything) { #expect(!text.contains(Hex.encode(testKey))) }
    }

    @Test func wrongServerProofIsRefusedAndBacksOff() {
        var h = Harness()
        let actions = h.authenticate(serverProofOverride: [UInt8](repeating: 0, count: 32))
        #expect(!h.core.isEndpointUp)
        #expect(closes(actions) == [.endpoint])
        #expect(logs(actions).contains { $0.contains("could not prove") })
        // Backoff: nothing is dialled before the deadline, which lies in the future.
        let deadline = try! #require(h.core.nextDeadline)
        #expect(deadline > h.now + 400)
        #expect(connects(h.core.tick(now: h.now)).isEmpty)
    }

    @Test func authenticationFailureFromServerIsLoggedAndRetriedOnTheNextEndpoint() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        _ = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        _ = h.receive(.endpoint, [.authChallenge(serverNonce: [UInt8](repeating: 1, count: 32))])
        let refused = h.receive(.endpoint, [.error(code: .authenticationFailed, message: "authentication failed")])
        #expect(logs(refused).contains { $0.contains("authentication-failed") })
        let deadline = h.core.nextDeadline!
        let retry = h.core.tick(now: deadline)
        #expect(connects(retry).first?.1 == ServerAddress(host: "127.0.0.2", port: 7000))
    }

    @Test func repeatedFailuresNeverMakeATightLoop() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        var lastDelay: Int64 = 0
        for attempt in 0..<12 {
            _ = h.core.connectFailed(.endpoint, reason: "refused", now: h.now)
            let deadline = h.core.nextDeadline!
            let delay = deadline - h.now
            #expect(delay >= 500, "attempt \(attempt) retried after only \(delay) ms")
            if attempt > 7 { #expect(delay >= 30000) }
            lastDelay = delay
            h.now = deadline
            #expect(connects(h.core.tick(now: h.now)).count == 1)
        }
        #expect(lastDelay <= 60000)
    }

    @Test func handshakeThatStallsTimesOut() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        let stalled = h.advance(10_000)
        #expect(closes(stalled) == [.endpoint])
        #expect(logs(stalled).contains { $0.contains("handshake timed out") })
    }

    @Test func heartbeatsGoOutAndSilenceReconnects() {
        var h = Harness()
        _ = h.authenticate()
        let beat = h.advance(10_000)
        #expect(sentMessages(beat, on: .endpoint) == [.heartbeat])
        _ = h.receive(.endpoint, [.heartbeat])
        _ = h.advance(10_000)
        _ = h.advance(10_000)
        #expect(h.core.isEndpointUp)
        let dead = h.advance(10_000)  // 30 s since the server's last byte
        #expect(!h.core.isEndpointUp)
        #expect(logs(dead).contains { $0.contains("silent") })
        #expect(closes(dead) == [.endpoint])
    }

    @Test func unsolicitedMessagesBeforeAuthenticationAreRefused() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        let early = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "10.0.0.1", port: 1, ticket: [])],
                              upgrade: true)
        #expect(sentMessages(early, on: .endpoint).first?.kind == .error)
        #expect(connects(early).isEmpty)  // no streampoint dialled
        #expect(!h.core.isEndpointUp)
    }

    @Test func garbageFromServerIsAProtocolViolation() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        let garbage = h.core.received(.endpoint, bytes: Array("HTTP/1.1 200 OK\r\n\r\n".utf8), now: h.now)
        #expect(closes(garbage) == [.endpoint])
        #expect(h.core.stats.protocolErrors == 1)
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where Array(haystack[start..<start + needle.count]) == needle {
            return true
        }
        return false
    }
}
