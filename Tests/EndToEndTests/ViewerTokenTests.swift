import CamNIO
import CamProtocol
import EndpointCore
import Foundation
import NIOPosix
import StreampointCore
import Testing

extension EndToEnd {
/// Viewer tokens end to end (docs/PROTOCOL.md §16): the real endpoint issues
/// them over HTTP and sends its keys down the streampoint channel. What a
/// streampoint then accepts is checked through the streampoint's own library
/// (EndpointChannelClient + ViewerTokenVerifier) connected over a real channel
/// to the real endpoint: the streampoint process has no route that answers
/// "is this token good" (an open door), and its viewer outputs are not wired
/// to tokens yet. A real streampoint process on the same endpoint shows, in its
/// log, that it receives the same keys and never logs a secret.
@Suite struct ViewerTokenTests {
    private func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
        for _ in 0..<Int(seconds * 20) {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    private func issue(_ cluster: Cluster, agent: String? = nil, body: String = #"{"target":"rtsp","ttl_seconds":600}"#)
        throws -> (code: Int, object: [String: Any], raw: String) {
        let answer = try apiRequest(port: cluster.endpointAdminPort, "POST", "/api/agents/\(agent ?? cluster.agentID)/viewer-token",
                                    headers: ["Authorization: Bearer \(cluster.adminToken)"], body: body)
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
        return (answer.code, object, answer.headers + answer.body)
    }

    private func rotate(_ cluster: Cluster) throws {
        let (status, out, err) = try run(Binaries.host("camagent-endpoint"), ["viewer-key", "rotate", "--registry", cluster.registry])
        #expect(status == 0, "\(out)\(err)")
    }

    @Test func theEndpointIssuesTokensTheStreampointChecksOfflineThroughRotation() async throws {
        let cluster = try Cluster()
        defer {
            cluster.stop()
            cluster.removeDirectory()
        }
        try cluster.startServers()
        let apiPort = cluster.endpointAdminPort
        let agent = cluster.agentID

        // A real streampoint process with the channel (restarted on its port, as the revocation test does).
        try cluster.addToken(name: "sp1-channel", role: "streampoint")
            .write(toFile: cluster.path("sp.token"), atomically: true, encoding: .utf8)
        cluster.streampoint.stop()
        cluster.streampoint = try cluster.spawn("streampoint-channel", Binaries.host("camagent-streampoint"), [
            "--id", "sp1", "--listen", "127.0.0.1:\(cluster.streampointPort)", "--admin", "127.0.0.1:0",
            "--ticket-key-file", cluster.path("ticket.key"),
            "--endpoint-api", "http://127.0.0.1:\(apiPort)", "--endpoint-token-file", cluster.path("sp.token"),
        ])

        // The streampoint library in process, over its own channel to the same endpoint.
        let verifier = ViewerTokenVerifier()
        let client = EndpointChannelClient(
            configuration: .init(endpoints: ["ws://127.0.0.1:\(apiPort)/api/streampoint-channel"], streampointID: "sp-lib"),
            token: try cluster.addToken(name: "sp-lib-channel", role: "streampoint"),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            load: { StreampointLoad(agents: 0, tunnels: 0, viewers: 0, bytesToViewers: 0, bytesFromViewers: 0) },
            applyRevoked: { _ in }, viewerTokens: verifier)
        let channel = Task { await client.run() }
        defer { channel.cancel() }
        let keysArrived = await eventually(15) { verifier.keyIDs == [1] }
        #expect(keysArrived, "keys \(verifier.keyIDs)\n\(cluster.allLogs)")

        // Issued over HTTP by the real endpoint.
        let issued = try issue(cluster)
        #expect(issued.code == 200, "\(issued.raw)")
        let token = try #require(issued.object["token"] as? String)
        let expiresAt = try #require(issued.object["expires_at_unix"] as? Int)
        #expect(issued.object["key_id"] as? Int == 1)
        #expect(issued.raw.lowercased().contains("cache-control: no-store"))

        // Accepted for its camera and target; refused forged, expired, for another camera or target.
        #expect(throws: Never.self) { try verifier.verify(token: token, agentID: agent, target: "rtsp").get() }
        var forged = Array(token.utf8)
        forged[forged.count / 2] = forged[forged.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(verifier.verify(token: String(decoding: forged, as: UTF8.self), agentID: agent, target: "rtsp") == .failure(.badSignature))
        #expect(verifier.verify(token: token, agentID: agent, target: "rtsp", now: UInt64(expiresAt)) == .failure(.expired))
        #expect(verifier.verify(token: token, agentID: "cam-other", target: "rtsp") == .failure(.wrongAgent))
        #expect(verifier.verify(token: token, agentID: agent, target: "http") == .failure(.wrongTarget))
        #expect(verifier.verify(token: nil, agentID: agent, target: "rtsp") == .failure(.missing))
        // A token signed with a key the endpoint never had.
        let stranger = ViewerToken(keyID: 1, issuedAt: 0, expiresAt: UInt64(expiresAt), agentID: agent, target: "rtsp")
            .signed(secret: [UInt8](repeating: 0x42, count: 32))
        #expect(verifier.verify(token: stranger, agentID: agent, target: "rtsp") == .failure(.badSignature))

        // The real endpoint refuses what it should.
        let anonymous = try apiRequest(port: apiPort, "POST", "/api/agents/\(agent)/viewer-token", body: #"{"target":"rtsp"}"#)
        #expect(anonymous.code == 401 && !anonymous.body.contains("token\":"), "\(anonymous)")
        #expect(try issue(cluster, agent: "cam-nobody").code == 404)
        #expect(try issue(cluster, body: #"{"target":"rtsp","ttl_seconds":5}"#).code == 400)
        #expect(try issue(cluster, body: #"{"target":"../x"}"#).code == 400)

        // Rotation (the CLI, like another process sharing the registry): the old token keeps working
        // while its key is the previous one, and stops at the second rotation.
        try rotate(cluster)
        let rotated = await eventually(15) { verifier.keyIDs == [2, 1] }
        #expect(rotated, "keys \(verifier.keyIDs)\n\(cluster.endpoint.stderr)")
        #expect(throws: Never.self) { try verifier.verify(token: token, agentID: agent, target: "rtsp").get() }
        let second = try issue(cluster)
        let newToken = try #require(second.object["token"] as? String)
        #expect(second.object["key_id"] as? Int == 2)
        #expect(throws: Never.self) { try verifier.verify(token: newToken, agentID: agent, target: "rtsp").get() }
        try rotate(cluster)
        let dropped = await eventually(15) { verifier.keyIDs == [3, 2] }
        #expect(dropped, "keys \(verifier.keyIDs)")
        #expect(verifier.verify(token: token, agentID: agent, target: "rtsp") == .failure(.unknownKey(1)))
        #expect(throws: Never.self) { try verifier.verify(token: newToken, agentID: agent, target: "rtsp").get() }

        // The real streampoint process got the same key sets (its log names ids only).
        let processSawRotation = await eventually(15) {
            cluster.streampoint.stderr.contains("viewer-token keys from the endpoint: 3, 2 (newest first)")
        }
        #expect(processSawRotation, "\(cluster.streampoint.stdout)\(cluster.streampoint.stderr)")

        // Audited without the token; no log line of any process carries a token.
        let audit = try apiRequest(port: apiPort, "GET", "/api/audit?limit=50", headers: ["Authorization: Bearer \(cluster.adminToken)"])
        #expect(audit.body.contains("\"viewer-token\"") && audit.body.contains(agent), "\(audit.body)")
        let logs = cluster.allLogs
        for secret in [token, newToken] {
            #expect(!audit.body.contains(secret) && !logs.contains(secret))
        }
    }
}
}

/// The viewer-token keys on a real PostgreSQL (a throwaway cluster): two stores
/// (two endpoints) racing to make the first key agree on it, and the CLI rotates.
@Suite struct ViewerKeysPostgresTests {
    @Test func keysAreSharedAndRotatedOnPostgreSQL() throws {
        let postgres = try ThrowawayPostgres()
        defer { postgres.stop() }
        let url = try postgres.createDatabase("viewerkeys")
        let main = try SQLRegistryStore.open(RegistryLocation(argument: url))
        let backup = try SQLRegistryStore.open(RegistryLocation(argument: url))
        defer { main.close(); backup.close() }
        let first = try main.ensureViewerTokenKey(secret: [UInt8](repeating: 1, count: 32), at: "t1")
        #expect(try backup.ensureViewerTokenKey(secret: [UInt8](repeating: 2, count: 32), at: "t2") == first)
        #expect(first.map(\.key.id) == [1])
        let endpoint = Binaries.host("camagent-endpoint")
        for expected in ["2, 1", "3, 2"] {
            let (status, out, err) = try run(endpoint, ["viewer-key", "rotate", "--registry", url])
            #expect(status == 0 && out.contains("accepted keys: \(expected)"), "\(out)\(err)")
        }
        #expect(try backup.viewerTokenKeys().map(\.key.id) == [3, 2])
        let (_, list, _) = try run(endpoint, ["viewer-key", "list", "--registry", url])
        #expect(list.hasPrefix("3\t") && list.contains("signing") && list.contains("verifying only"), "\(list)")
        #expect(!list.contains(Hex.encode([UInt8](repeating: 1, count: 32))), "never a secret")
    }
}
