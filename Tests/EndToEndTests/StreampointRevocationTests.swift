import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// DESIGN §9 / issue 14 item 5 at the streampoint: real agent, streampoint and
    /// endpoint processes and a real viewer; the revoked set comes down the
    /// streampoint channel from FakeChannelEndpoint.
    @Suite struct StreampointRevocationTests {
        /// Polls every 50 ms for at most `seconds`.
        private func eventually(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
            for _ in 0..<Int(seconds * 20) {
                if await condition() { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return await condition()
        }

        private func occurrences(of text: String, in log: String) -> Int {
            log.components(separatedBy: text).count - 1
        }

        @Test func aBadTokenFileStopsTheStreampointAtStartNamingTheFileNotTheToken() throws {
            let cluster = try Cluster()
            defer { cluster.removeDirectory() }
            try cluster.ticketKey.write(toFile: cluster.path("ticket.key"), atomically: true, encoding: .utf8)
            try "cat_half-of-a-secret other-half\n".write(toFile: cluster.path("bad.token"), atomically: true, encoding: .utf8)
            let (status, out, err) = try run(Binaries.host("camagent-streampoint"), [
                "--ticket-key-file", cluster.path("ticket.key"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                "--endpoint-api", "http://127.0.0.1:9", "--endpoint-token-file", cluster.path("bad.token"),
            ], timeout: 30)
            #expect(status == 64)
            #expect(err.contains("--endpoint-token-file \(cluster.path("bad.token")) must hold one token"), "\(err)")
            #expect(!err.contains("secret") && !out.contains("secret"), "the token must never be echoed")
            #expect(!out.contains("listening"), "nothing may start with a bad token file")
        }

        @Test func aRevokedAgentLosesItsSessionAndViewerWithinFiveSecondsAndCannotRegisterAgain() async throws {
            let fake = FakeChannelEndpoint(token: "cat_e2e-streampoint-token")
            let (server, channelPort) = try await fake.start()
            defer { server.cancel() }
            let cluster = try Cluster()
            defer {
                cluster.stop()
                cluster.removeDirectory()
            }
            try "cat_e2e-streampoint-token\n".write(toFile: cluster.path("sp.token"), atomically: true, encoding: .utf8)
            try cluster.startServers(streampointArguments: [
                "--endpoint-api", "http://127.0.0.1:\(channelPort)", "--endpoint-token-file", cluster.path("sp.token"),
            ])
            let channelUp = await eventually(10) { await fake.hellos >= 1 }
            #expect(channelUp, "\(cluster.allLogs)")
            try await revocationScenario(cluster, via: "the fake endpoint's channel",
                                         revoke: { await fake.setRevoked([cluster.agentID]) },
                                         lift: { await fake.setRevoked([]) })
        }

        /// DESIGN §9 / issue 14 item 5 with every piece real: the operator revokes
        /// the agent at the endpoint's API, and the streampoint learns it over its
        /// channel to that endpoint.
        @Test func anAgentRevokedAtTheEndpointsAPILosesItsStreampointSessionAndViewerWithinFiveSeconds() async throws {
            let cluster = try Cluster()
            defer {
                cluster.stop()
                cluster.removeDirectory()
            }
            try cluster.startServers()
            let apiPort = cluster.endpointAdminPort
            try cluster.addToken(name: "sp1-channel", role: "streampoint")
                .write(toFile: cluster.path("sp.token"), atomically: true, encoding: .utf8)
            // The endpoint needs the streampoint's port and the streampoint the endpoint's API:
            // restart the streampoint on its port, now with the channel.
            cluster.streampoint.stop()
            cluster.streampoint = try cluster.spawn("streampoint-channel", Binaries.host("camagent-streampoint"), [
                "--id", "sp1", "--listen", "127.0.0.1:\(cluster.streampointPort)", "--admin", "127.0.0.1:0",
                "--ticket-key-file", cluster.path("ticket.key"),
                "--endpoint-api", "http://127.0.0.1:\(apiPort)", "--endpoint-token-file", cluster.path("sp.token"),
            ])
            _ = try cluster.streampoint.waitForLine(startingWith: "streampoint: agents listening on ")
            let channelUp = await eventually(10) {
                cluster.streampoint.stderr.contains("revoked set from the endpoint: 0 agent(s)")
                    && cluster.streampoint.stderr.contains("viewer-token keys from the endpoint")
            }
            #expect(channelUp, "\(cluster.allLogs)")
            // With the channel the passthrough port wants a viewer token.
            let viewerToken = try cluster.viewerToken()

            let admin = ["Authorization: Bearer \(cluster.adminToken)"]
            try await revocationScenario(cluster, via: "the endpoint's API and the streampoint channel", viewerToken: viewerToken, revoke: {
                let answer = try apiRequest(port: apiPort, "POST", "/api/agents/\(cluster.agentID)/revoke", headers: admin,
                                            body: #"{"reason":"stolen camera"}"#)
                #expect(answer.code == 200, "\(answer)")
            }, lift: {
                let answer = try apiRequest(port: apiPort, "POST", "/api/agents/\(cluster.agentID)/unrevoke", headers: admin, body: "{}")
                #expect(answer.code == 200, "\(answer)")
            })
            let listed = try apiRequest(port: apiPort, "GET", "/api/streampoints", headers: admin)
            #expect(listed.code == 200 && listed.body.contains("\"sp1\"") && listed.body.contains("\"agents\""), "\(listed)")
        }

        /// With a viewer streaming, `revoke` makes the agent revoked wherever the
        /// streampoint's channel leads; the streampoint must close the viewer,
        /// the session and the viewer port within 5 s and refuse the agent's
        /// re-REGISTER; after `lift` the agent registers again.
        private func revocationScenario(_ cluster: Cluster, via: String, viewerToken: String? = nil, revoke: () async throws -> Void,
                                        lift: () async throws -> Void) async throws {
            try cluster.startAgent()
            let url = try cluster.viewerURL(target: "rtsp")
            let viewerPort = try #require(Int(url.split(separator: ":").last?.filter(\.isNumber) ?? ""))
            let viewer = try RawClient(port: viewerPort)
            viewer.send("OPTIONS rtsp://127.0.0.1:\(viewerPort)/\(viewerToken.map { "?token=\($0)" } ?? "") RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            let reply = viewer.read(atLeast: 12)
            #expect(reply.starts(with: Array("RTSP/1.0 200".utf8)), "\(String(decoding: reply, as: UTF8.self))\n\(cluster.allLogs)")

            let revokedAt = Date()
            try await revoke()
            let (_, viewerClosed) = viewer.readUntilClosed()
            let viewerSeconds = Date().timeIntervalSince(revokedAt)
            #expect(viewerClosed, "the viewer connection stayed open\n\(cluster.allLogs)")
            #expect(viewerSeconds < 5)

            let sessionClosed = await eventually(5) {
                cluster.streampoint.stderr.contains("agent \(cluster.agentID) revoked at the endpoint: closed its control link")
            }
            let sessionSeconds = Date().timeIntervalSince(revokedAt)
            #expect(sessionClosed, "\(cluster.streampoint.stderr)")
            #expect(sessionSeconds < 5)
            #expect((try? connectLoopback(port: viewerPort)).map { close($0) } == nil, "the viewer port must be closed")

            // The agent redials with its backoff (200 ms to 2 s here): its STREAM_REGISTER is refused, not admitted.
            let refused = await eventually(10) {
                cluster.streampoint.stderr.contains("revoked: agent revoked by operator")
                    && occurrences(of: "streampoint refused us: revoked", in: cluster.agent?.stderr ?? "") >= 2
            }
            #expect(refused, "\(cluster.allLogs)")
            #expect(occurrences(of: "streampoint: agent \(cluster.agentID) target rtsp at ", in: cluster.streampoint.stdout) == 1)
            print("revocation at the streampoint (via \(via)): "
                + String(format: "viewer closed %.0f ms and control session closed within %.0f ms after the revocation; re-REGISTER refused",
                         viewerSeconds * 1000, sessionSeconds * 1000))

            // Lifting the revocation lets the agent back in.
            try await lift()
            let back = await eventually(30) {
                occurrences(of: "streampoint: agent \(cluster.agentID) target rtsp at ", in: cluster.streampoint.stdout) >= 2
            }
            #expect(back, "\(cluster.allLogs)")
        }
    }
}
