import CamProtocol
import Foundation
import Testing

/// Hostile clients and servers: clear errors, closed connections, everyone else served.
extension EndToEnd {
@Suite struct RobustnessTests {
    @Test func serversRejectBadClientsAndKeepServingTheGoodAgent() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")

        for port in [cluster.endpointPort, cluster.streampointPort] {
            // Garbage instead of the HTTP upgrade.
            let garbage = try RawClient(port: port)
            garbage.send("\u{16}\u{03}\u{01}garbage that is not HTTP\r\n\r\n")
            let garbageReply = garbage.readUntilClosed()
            #expect(garbageReply.closed)
            #expect(garbageReply.bytes.text.hasPrefix("HTTP/1.1 400"), "port \(port): \(garbageReply.bytes.text)")

            // An oversize frame length after a valid upgrade.
            let oversize = try RawClient(port: port)
            oversize.send(HTTPUpgrade.request(host: "x") + [0x01, 0x00, 0xFF, 0xFF])
            let oversizeReply = try serverError(oversize.readUntilClosed())
            #expect(oversizeReply.code == .frameTooLarge, "port \(port)")
            #expect(oversizeReply.message.contains("8192"))

            // A HELLO from a future protocol version.
            let future = try RawClient(port: port)
            var hello = Message.hello(version: 1, role: .endpointControl, software: "future").frame()
            hello.payload[4] = 9
            future.send(HTTPUpgrade.request(host: "x") + hello.encoded())
            let futureReply = try serverError(future.readUntilClosed())
            #expect(futureReply.code == .unsupportedVersion, "port \(port)")
            #expect(futureReply.message.contains("version 9"), "\(futureReply.message)")
        }

        // A wrong key: the endpoint says no and closes.
        let impostor = try RawClient(port: cluster.endpointPort)
        impostor.send(HTTPUpgrade.request(host: "x")
            + Message.hello(version: 1, role: .endpointControl, software: "impostor").encoded()
            + Message.authBegin(agentID: cluster.agentID, clientNonce: [UInt8](repeating: 1, count: 32)).encoded()
            + Message.authProof(proof: [UInt8](repeating: 0, count: 32)).encoded())
        let refusal = try serverError(impostor.readUntilClosed())
        #expect(refusal.code == .authenticationFailed)

        // The good agent still streams, and the servers are still up.
        #expect(try countFrames(url) >= 50)
        #expect(cluster.endpoint.isRunning && cluster.streampoint.isRunning && cluster.agent!.isRunning)
    }

    @Test func agentWithAWrongKeyRetriesAndNeverExits() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let agent = try cluster.startAgent(config: cluster.agentConfig(key: Cluster.randomHex(32)))
        _ = try agent.waitForLine(startingWith: "", in: \.stderr)  // started
        // Two refusals prove it retried.
        let deadline = Date().addingTimeInterval(20)
        while agent.stderr.components(separatedBy: "authentication-failed").count < 3 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(agent.stderr.components(separatedBy: "authentication-failed").count >= 3, "\(cluster.allLogs)")
        #expect(agent.stderr.contains("retrying in"))
        #expect(agent.isRunning)
    }

    @Test func agentStartedBeforeItsEndpointConnectsOnceItAppears() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let laterPort = try unusedPort()
        let agent = try cluster.startAgent(config: cluster.agentConfig(endpointPort: laterPort))
        Thread.sleep(forTimeInterval: 2)
        #expect(agent.isRunning)
        #expect(agent.stderr.contains("retrying in"), "\(agent.stderr)")
        // Now an endpoint appears on that port.
        _ = try cluster.spawn("endpoint-late", Binaries.host("camagent-endpoint"), [
            "serve", "--listen", "127.0.0.1:\(laterPort)", "--admin", "127.0.0.1:0", "--registry", cluster.path("registry.sqlite"),
            "--ticket-key-file", cluster.path("ticket.key"), "--streampoint", "sp1=127.0.0.1:\(cluster.streampointPort)",
        ])
        let url = try cluster.viewerURL(target: "rtsp", timeout: 30)
        #expect(try countFrames(url, seconds: 3) >= 50)
    }

    @Test func brokenConfigExitsWithOneClearLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("camagent-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bad.conf").path
        try "agent_id = cam-1\ndevice_key = 00112233445566778899aabbccddeeff\nendpoint = http://127.0.0.1:99999\ntarget = rtsp=127.0.0.1:554\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let (status, _, err) = try run(Binaries.host("camagent"), ["--config", config])
        #expect(status == 78)
        #expect(err == "camagent: config error: \(config) line 3: endpoint: 'http://127.0.0.1:99999' is not http(s)://host[:port]\n")
    }

    private func serverError(_ reply: (bytes: [UInt8], closed: Bool)) throws -> (code: ErrorCode, message: String) {
        #expect(reply.closed, "server did not close the connection")
        var accumulator = HTTPHeadAccumulator()
        guard let (head, rest) = try accumulator.feed(reply.bytes), head.text.hasPrefix("HTTP/1.1 101") else {
            throw ClusterError("no 101 in reply: \(reply.bytes.text)")
        }
        var decoder = FrameDecoder()
        decoder.append(rest)
        while let frame = try decoder.nextFrame() {
            if case .error(let code, let message) = try Message(frame: frame) { return (code, message) }
        }
        throw ClusterError("no ERROR frame in reply")
    }
}
}
