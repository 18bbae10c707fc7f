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

@Suite struct ActivationTests {
    let secret = [UInt8](repeating: 0x5A, count: 32)
    let issuedKey = (0..<32).map { UInt8(200 - $0) }

    func factoryConfig() -> AgentConfig {
        var config = AgentConfig(identity: nil, endpoints: [ServerAddress(host: "localhost", port: 7000, tls: true)],
                                 targets: [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 8554)])
        config.factory = FactoryIdentity(serial: "XM0001", mac: "00:12:34:56:78:9a", model: "IPC-3518", firmware: "V5.0",
                                         activationSecret: secret)
        config.stateFile = "/var/lib/camagent/state"
        return config
    }

    @Test func freshUnitActivatesStoresItsIdentityAndThenAuthenticatesWithIt() throws {
        var h = Harness(config: factoryConfig())
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        let begin = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        guard case .activateBegin(let serial, let mac, let model, let firmware, let clientNonce)? = sentMessages(begin, on: .endpoint).first else {
            Issue.record("no ACTIVATE_BEGIN"); return
        }
        #expect(serial == "XM0001" && mac == "00:12:34:56:78:9a" && model == "IPC-3518" && firmware == "V5.0")
        let serverNonce = [UInt8](repeating: 0x33, count: 32)
        let verifier = Activation.verifier(activationSecret: secret, serial: "XM0001")
        let proofActions = h.receive(.endpoint, [.authChallenge(serverNonce: serverNonce)])
        #expect(sentMessages(proofActions, on: .endpoint) == [.activateProof(proof: Activation.clientProof(
            verifier: verifier, serial: "XM0001", clientNonce: clientNonce, serverNonce: serverNonce))])
        // The secret itself is never sent.
        for case .send(_, let bytes) in proofActions + begin { #expect(!bytes.contains(secretPrefix)) }

        let pad = Activation.keyPad(verifier: verifier, serial: "XM0001", clientNonce: clientNonce, serverNonce: serverNonce)
        let activated = h.receive(.endpoint, [.activated(
            serverProof: Activation.serverProof(verifier: verifier, serial: "XM0001", clientNonce: clientNonce, serverNonce: serverNonce),
            agentID: "cam-XM0001", wrappedKey: Activation.xor(issuedKey, pad))])
        #expect(activated.contains(.storeState(AgentState(identity: AgentIdentity(agentID: "cam-XM0001", deviceKey: issuedKey)))))
        #expect(closes(activated) == [.endpoint])
        #expect(!logs(activated).joined().contains(Hex.encode(issuedKey)))

        // Redialled at once (in the same step: nothing else would wake the loop),
        // now authenticating as the issued identity.
        #expect(connects(activated).map(\.0) == [.endpoint])
        #expect(closes(activated).count == 1)
        _ = h.core.connected(.endpoint, now: h.now)
        let auth = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        guard case .authBegin(let id, _)? = sentMessages(auth, on: .endpoint).first else { Issue.record("no AUTH_BEGIN"); return }
        #expect(id == "cam-XM0001")
        #expect(h.core.identity?.deviceKey == issuedKey)
    }

    var secretPrefix: [UInt8] { Array(secret[0..<8]) }

    @Test func activationWithABadServerProofStoresNothing() {
        var h = Harness(config: factoryConfig())
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        _ = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        _ = h.receive(.endpoint, [.authChallenge(serverNonce: [UInt8](repeating: 1, count: 32))])
        let forged = h.receive(.endpoint, [.activated(serverProof: [UInt8](repeating: 0, count: 32), agentID: "cam-evil",
                                                      wrappedKey: [UInt8](repeating: 0, count: 32))])
        #expect(!forged.contains { if case .storeState = $0 { return true } else { return false } })
        #expect(h.core.identity == nil)
        #expect(logs(forged).contains { $0.contains("activation secret") })
    }

    @Test func revokedAgentBacksOffToTheMaximum() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        _ = h.core.connected(.endpoint, now: h.now)
        _ = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        let revoked = h.receive(.endpoint, [.error(code: .revoked, message: "revoked by operator: stolen unit")])
        #expect(logs(revoked).contains { $0.contains("revoked") && $0.contains("stolen unit") })
        #expect(h.core.nextDeadline! - h.now >= 30_000)
    }

    @Test func stateFileRoundTripsAndRejectsDamage() {
        let identity = AgentIdentity(agentID: "cam-XM0001", deviceKey: issuedKey)
        let state = AgentState(identity: identity,
                               endpoints: [ServerAddress(host: "ep1.example.net", port: 443, tls: true, knownAddress: "192.0.2.10"),
                                           ServerAddress(host: "ep2.example.net", port: 8443, tls: true)],
                               mainEndpointRecheckMs: 60_000)
        let text = StateFile.render(state)
        #expect(StateFile.parse(text) == state)
        #expect(StateFile.parse(text)?.endpoints.first?.knownAddress == "192.0.2.10")
        #expect(StateFile.parse(String(text.dropLast(20))) == nil)  // torn write
        #expect(StateFile.parse(String(text.dropLast(15))) == nil)  // cut after a whole line
        #expect(StateFile.parse("") == nil)
        #expect(StateFile.parse("agent_id = x\ndevice_key = zz\ncomplete = yes\n") == nil)
        #expect(StateFile.parse("endpoint = https://ep.example.net evil.example.net\ncomplete = yes\n") == nil)
        let configOnly = AgentState(configEndpointAddresses: [ServerAddress(host: "ep.example.net", port: 443, tls: true,
                                                                            knownAddress: "2001:db8::7")])
        #expect(StateFile.parse(StateFile.render(configOnly)) == configOnly)
    }
}
