import CamProtocol
import Foundation
import Testing

func bytes(hex: String) -> [UInt8] { Hex.decode(hex) ?? [] }

extension EndToEnd {
@Suite struct SecurityTests {
    /// A recorded successful login, replayed byte for byte, must fail: the
    /// server's fresh nonce makes the recorded proof worthless.
    @Test func replayedLoginTranscriptIsRejected() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let key = bytes(hex: cluster.deviceKey)
        let verifier = Authentication.verifier(deviceKey: key, agentID: cluster.agentID)

        let original = try LinkClient(port: cluster.endpointPort)
        let clientNonce = [UInt8](repeating: 0x42, count: 32)
        original.send(HTTPUpgrade.request(host: "x")
            + Message.hello(version: 1, role: .endpointControl, software: "recorder").encoded()
            + Message.authBegin(agentID: cluster.agentID, clientNonce: clientNonce).encoded())
        #expect(try original.next()?.kind == .helloAck)
        guard case .authChallenge(let serverNonce)? = try original.next() else { Issue.record("no challenge"); return }
        original.send(.authProof(proof: Authentication.clientProof(verifier: verifier, agentID: cluster.agentID,
                                                                  clientNonce: clientNonce, serverNonce: serverNonce)))
        guard case .authOK? = try original.next() else { Issue.record("the genuine login failed"); return }
        let transcript = original.sent

        let replay = try LinkClient(port: cluster.endpointPort)
        replay.send(transcript)
        var replies: [Message] = []
        while let message = try replay.next() { replies.append(message) }
        #expect(!replies.contains { $0.kind == .authOK }, "the replayed transcript logged in")
        guard case .error(.authenticationFailed, _)? = replies.last else {
            Issue.record("expected authentication-failed, got \(replies.map(\.name))"); return
        }
    }

    /// The streampoint checks the endpoint's signature offline and refuses
    /// forged, expired and misdirected tickets with a reason.
    @Test func streampointRefusesForgedExpiredAndMisdirectedTickets() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let key = bytes(hex: cluster.ticketKey)
        let now = UInt64(Date().timeIntervalSince1970)
        let nonce = [UInt8](repeating: 1, count: 16)
        let cases: [(String, [UInt8], String)] = [
            ("forged", Ticket(agentID: cluster.agentID, streampointID: "sp1", expiresAt: now + 300, nonce: nonce)
                .signed(key: [UInt8](repeating: 0x13, count: 32)), "signature"),
            ("expired", Ticket(agentID: cluster.agentID, streampointID: "sp1", expiresAt: now - 1, nonce: nonce)
                .signed(key: key), "expired"),
            ("other streampoint", Ticket(agentID: cluster.agentID, streampointID: "sp2", expiresAt: now + 300, nonce: nonce)
                .signed(key: key), "sp2"),
        ]
        for (label, ticket, reason) in cases {
            let link = try LinkClient(port: cluster.streampointPort)
            link.send(HTTPUpgrade.request(host: "x")
                + Message.hello(version: 1, role: .streampointControl, software: "t").encoded()
                + Message.streamRegister(ticket: ticket, targets: [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554)]).encoded())
            var replies: [Message] = []
            while let message = try link.next() { replies.append(message) }
            guard case .error(.invalidTicket, let text)? = replies.last else {
                Issue.record("\(label): expected invalid-ticket, got \(replies.map(\.name))"); continue
            }
            #expect(text.contains(reason), "\(label): \(text)")
        }
        // A genuine ticket is still accepted afterwards.
        let good = try LinkClient(port: cluster.streampointPort)
        good.send(HTTPUpgrade.request(host: "x")
            + Message.hello(version: 1, role: .streampointControl, software: "t").encoded()
            + Message.streamRegister(ticket: Ticket(agentID: cluster.agentID, streampointID: "sp1", expiresAt: now + 300, nonce: nonce)
                .signed(key: key), targets: [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554)]).encoded())
        #expect(try good.next()?.kind == .helloAck)
        #expect(try good.next()?.kind == .streamRegistered)
    }

    /// A hostile streampoint asks the agent for hosts and ports outside its
    /// config, and for a tunnel before registration. Every request is refused,
    /// counted and logged; no connection reaches the forbidden port.
    @Test func maliciousStreampointCannotReachAnythingButTheConfiguredTargets() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let evil = try RawServer()
        let forbidden = try RawServer()  // "another port on 127.0.0.1" that must never be dialled
        try cluster.startServers(streampointOverride: "evil=127.0.0.1:\(evil.port)")
        let agent = try cluster.startAgent()

        // First connection: ask for a tunnel before admitting the agent.
        let early = try #require(evil.accept(timeout: 20).map(ServerLink.init), "the agent never came")
        #expect(try early.next()?.kind == .hello)
        early.send(.helloAck(version: 1, server: "evil"))
        early.send(.tunnelOpen(tunnelID: 1, host: "127.0.0.1", port: UInt16(forbidden.port), bindToken: [UInt8](repeating: 0, count: 16)))
        var earlyReplies: [Message] = []
        while let message = try early.next() { earlyReplies.append(message) }
        #expect(earlyReplies.contains { if case .error(.unexpectedMessage, _) = $0 { return true } else { return false } },
                "\(earlyReplies.map(\.name))")

        // Second connection (after backoff): register properly, then ask for forbidden targets.
        let link = try #require(evil.accept(timeout: 20).map(ServerLink.init), "the agent did not come back")
        #expect(try link.next()?.kind == .hello)
        link.send(.helloAck(version: 1, server: "evil"))
        #expect(try link.next()?.kind == .streamRegister)
        link.send(.streamRegistered(streampointID: "evil"))
        let forbiddenTargets: [(String, UInt16)] = [
            ("192.168.1.10", UInt16(cluster.rtspPort)),      // another LAN host, right port
            ("127.0.0.1", UInt16(forbidden.port)),            // another port on the camera
            ("localhost", UInt16(cluster.rtspPort)),          // same place, different spelling
            ("127.0.0.1", 22),
        ]
        for (index, target) in forbiddenTargets.enumerated() {
            link.send(.tunnelOpen(tunnelID: UInt32(10 + index), host: target.0, port: target.1,
                                  bindToken: [UInt8](repeating: 7, count: 16)))
        }
        var refusals = 0
        while refusals < forbiddenTargets.count, let message = try link.next() {
            if case .tunnelOpenFailed(_, .targetNotAllowed, _) = message { refusals += 1 }
        }
        #expect(refusals == forbiddenTargets.count)
        #expect(forbidden.accept(timeout: 1) == nil, "the agent connected to a port outside its config")
        #expect(agent.stderr.components(separatedBy: "is not a configured target").count - 1 == forbiddenTargets.count)
        #expect(agent.isRunning)
    }

    /// No key, verifier, ticket key or ticket appears in any log of a full run.
    @Test func secretsNeverAppearInAnyLog() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent(config: cluster.agentConfig(extra: "log_level = debug"))
        let url = try cluster.viewerURL(target: "rtsp")
        #expect(try countFrames(url, seconds: 2) >= 25)
        let key = bytes(hex: cluster.deviceKey)
        let verifier = Hex.encode(Authentication.verifier(deviceKey: key, agentID: cluster.agentID))
        // The SQLite file's bytes (and its WAL): the verifier is stored as hex text.
        let registry = registryFileText(cluster.path("registry.sqlite"))
        #expect(registry.contains(verifier), "the registry should hold the verifier")
        #expect(!registry.contains(cluster.deviceKey), "the registry must not hold the device key")
        let logs = cluster.allLogs.lowercased()
        for (name, secret) in [("device key", cluster.deviceKey), ("verifier", verifier), ("ticket key", cluster.ticketKey)] {
            #expect(!logs.contains(secret.lowercased()), "the \(name) appears in a log")
            // Also no 16-hex-digit slice of it (a truncated or partial dump).
            let sample = String(secret.prefix(16)).lowercased()
            #expect(!logs.contains(sample), "part of the \(name) appears in a log")
        }
    }
}
}
