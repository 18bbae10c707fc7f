import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private func announcedPort(_ text: String) throws -> Int { try port(fromAnnouncement: text) }

/// Endpoint failover and streampoint switching with real processes on
/// loopback, TLS on: the camera stays reachable while servers die or move.
extension EndToEnd {
@Suite struct FailoverTests {
    @Test func killedMainEndpointMovesTheAgentToTheBackupAndBackWhenTheMainReturns() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let timers = ["--heartbeat", "1", "--peer-timeout", "3"]
        // The streampoint too: the agent applies the endpoint's 3 s peer timeout to
        // its streampoint link, and on its 10 s default heartbeat the streampoint
        // would look dead 3 s after registering (a new viewer port under the probe).
        try cluster.startServers(tls: true, endpointArguments: timers, streampointArguments: timers)
        let backup = try startEndpoint(cluster, name: "endpoint-b", port: 0, extra: timers)
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: """
            endpoint = https://localhost:\(backup.port)
            main_endpoint_recheck_ms = 2000
            """))
        let url = try cluster.viewerURL(target: "rtsp")
        try waitForLog(agent, "endpoint: authenticated to localhost:\(cluster.endpointPort)", count: 1)

        let mainPort = cluster.endpointPort
        let killedAt = Date()
        kill(cluster.endpoint.process.processIdentifier, SIGKILL)
        try waitForLog(agent, "endpoint: authenticated to localhost:\(backup.port)", count: 1, timeout: 20)
        let failover = Date().timeIntervalSince(killedAt)
        print("failover: agent authenticated on the backup endpoint \(String(format: "%.2f", failover)) s after kill -9 of the main")
        #expect(failover <= 3 + 3, "took \(failover) s\n\(cluster.allLogs)")
        // The streampoint link never depended on the endpoint link.
        #expect(try countFrames(url, seconds: 2) >= 25)

        // The main endpoint comes back on its address: the agent checks it every
        // 2 s and moves back once it answers.
        let restarted = try startEndpoint(cluster, name: "endpoint-again", port: mainPort, extra: timers,
                                          registry: "registry.sqlite")
        let returnStarted = Date()
        try waitForLog(agent, "endpoint: main endpoint localhost:\(restarted.port) answers again", count: 1, timeout: 20)
        try waitForLog(agent, "endpoint: authenticated to localhost:\(mainPort)", count: 2, timeout: 20)
        print("failover: back on the main endpoint \(String(format: "%.2f", Date().timeIntervalSince(returnStarted))) s after it restarted")
        #expect(agent.isRunning)
    }

    @Test func switchWhileAViewerWatchesIsMakeBeforeBreak() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        // sp2 first, so the endpoint can be told about both.
        try cluster.makePKI()
        try cluster.ticketKey.write(toFile: cluster.path("ticket.key"), atomically: true, encoding: .utf8)
        let sp2 = try cluster.spawn("streampoint-2", Binaries.host("camagent-streampoint"), [
            "--id", "sp2", "--listen", "\(Cluster.tlsListenHost):0", "--admin", "127.0.0.1:0",
            "--ticket-key-file", cluster.path("ticket.key"), "--passthrough-open",
            "--tls-cert", cluster.pkiPath("server.pem"), "--tls-key", cluster.pkiPath("server.key"),
        ])
        let sp2Port = try announcedPort(sp2.waitForLine(startingWith: "streampoint: agents listening on "))
        try cluster.startServers(tls: true, endpointArguments: ["--streampoint", "sp2=tls://localhost:\(sp2Port)"])
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: "switch_grace_ms = 3000"))
        let oldURL = try cluster.viewerURL(target: "rtsp")

        // A viewer on sp1 for the whole switch.
        let watcher = try cluster.spawn("viewer-sp1", try #require(which("ffprobe")), [
            "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", "-read_intervals", "%+6", oldURL,
        ])
        Thread.sleep(forTimeInterval: 1.5)

        let commandAt = Date()
        let (code, body) = try cluster.endpointAdmin("POST", "/api/agents/\(cluster.agentID)/streampoint", body: #"{"streampoint":"sp2"}"#)
        #expect(code == 200, "\(body)")
        let newURL = try sp2.waitForLine(startingWith: "streampoint: agent \(cluster.agentID) target rtsp at ", timeout: 10)
        let registered = Date().timeIntervalSince(commandAt)
        // The first decoded frame via sp2 (ffprobe's own start-up included).
        let (firstStatus, _, firstErr) = try run(try #require(which("ffprobe")), [
            "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0", "-read_intervals", "%+#1",
            "-show_entries", "frame=pict_type", "-of", "csv=p=0", newURL,
        ], timeout: 20)
        let firstFrame = Date().timeIntervalSince(commandAt)
        #expect(firstStatus == 0, "\(firstErr)")
        let frames: Int
        do { frames = try countFrames(newURL, seconds: 2) } catch { throw ClusterError("\(error)\n\(cluster.allLogs)") }
        let video = Date().timeIntervalSince(commandAt)
        print("switch: registered at sp2 \(Int(registered * 1000)) ms after the command; first frame via sp2 decoded "
              + "\(Int(firstFrame * 1000)) ms after it (ffprobe start-up included); "
              + "\(frames) frames in a 2 s probe, done \(String(format: "%.2f", video)) s after the command")
        #expect(registered <= 1.0, "registration at sp2 took \(registered) s\n\(cluster.allLogs)")
        #expect(frames >= 25)

        // The viewer on the old streampoint was not cut by the switch itself.
        let deadline = Date().addingTimeInterval(30)
        while watcher.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let oldFrames = Int(watcher.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        print("switch: the sp1 viewer decoded \(oldFrames) frames across the switch")
        #expect(oldFrames >= 60, "sp1 viewer: \(watcher.stdout) \(watcher.stderr)\n\(cluster.allLogs)")
        // The old control link closed only after sp2 registered, and its tunnel
        // ended no later than the grace period.
        let log = agent.stderr
        let registeredAt = try #require(log.range(of: "streampoint: registered with sp2"))
        let leftAt = try #require(log.range(of: "switch to sp2 complete; left sp1"))
        #expect(registeredAt.lowerBound < leftAt.lowerBound)
    }

    struct StartedEndpoint {
        let child: ChildProcess
        let port: Int
    }

    /// Another endpoint for the same agent and streampoint. `registry` nil:
    /// a copy of the cluster's (two processes must not write one file).
    private func startEndpoint(_ cluster: Cluster, name: String, port: Int, extra: [String],
                               registry: String? = nil) throws -> StartedEndpoint {
        let registryFile = registry ?? "registry-\(name).sqlite"
        if registry == nil {
            try? FileManager.default.removeItem(atPath: cluster.path(registryFile))
            try FileManager.default.copyItem(atPath: cluster.path("registry.sqlite"), toPath: cluster.path(registryFile))
        }
        let child = try cluster.spawn(name, Binaries.host("camagent-endpoint"), [
            "serve", "--listen", "\(Cluster.tlsListenHost):\(port)", "--admin", "127.0.0.1:0",
            "--registry", cluster.path(registryFile), "--ticket-key-file", cluster.path("ticket.key"),
            "--streampoint", "sp1=tls://localhost:\(cluster.streampointPort)",
            "--tls-cert", cluster.pkiPath("server.pem"), "--tls-key", cluster.pkiPath("server.key"),
        ] + extra)
        let bound = try announcedPort(child.waitForLine(startingWith: "endpoint: agents listening on "))
        return StartedEndpoint(child: child, port: bound)
    }


    private func waitForLog(_ child: ChildProcess, _ text: String, count: Int, timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if child.stderr.components(separatedBy: text).count - 1 >= count { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ClusterError("\(child.name) did not log '\(text)' \(count)× within \(Int(timeout)) s\n\(child.stderr)")
    }
}
}
