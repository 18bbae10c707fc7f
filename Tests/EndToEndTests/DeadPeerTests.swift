import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A server that stops answering without closing (a frozen process, a dead
/// NAT mapping) must not keep the agent on a dead session for minutes.
extension EndToEnd {
@Suite struct DeadPeerTests {
    @Test func frozenEndpointIsDetectedWithinThePeerTimeoutAndTheAgentComesBack() throws {
        let cluster = try Cluster()
        defer {
            if let endpoint = cluster.endpoint, endpoint.isRunning { kill(endpoint.process.processIdentifier, SIGCONT) }
            cluster.stop()
            cluster.removeDirectory()
        }
        // The endpoint tells agents: heartbeat every second, dead after 3 s of silence.
        try cluster.startServers(tls: true, endpointArguments: ["--heartbeat", "1", "--peer-timeout", "3"])
        let agent = try cluster.startAgent()
        _ = try cluster.viewerURL(target: "rtsp")
        _ = try agent.waitForLine(startingWith: "", in: \.stderr)

        // SIGSTOP keeps the endpoint's sockets open (the kernel still ACKs) but
        // nothing is sent: exactly the half-open session heartbeats exist for.
        let stoppedAt = Date()
        kill(cluster.endpoint.process.processIdentifier, SIGSTOP)
        let detected = try waitForLog(agent, containing: "peer silent for", timeout: 10)
        let detectionSeconds = detected.timeIntervalSince(stoppedAt)
        print("dead-peer: frozen endpoint detected after \(String(format: "%.1f", detectionSeconds)) s (peer timeout 3 s)")
        #expect(detectionSeconds <= 3 + 2, "detected after \(detectionSeconds) s\n\(cluster.allLogs)")
        // The streampoint session is independent of the endpoint link.
        #expect(cluster.agent!.isRunning)

        // Thawed, the endpoint takes the agent back without a restart.
        kill(cluster.endpoint.process.processIdentifier, SIGCONT)
        let authentications = agent.stderr.components(separatedBy: "endpoint: authenticated").count - 1
        let deadline = Date().addingTimeInterval(30)
        while agent.stderr.components(separatedBy: "endpoint: authenticated").count - 1 <= authentications && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(agent.stderr.components(separatedBy: "endpoint: authenticated").count - 1 > authentications,
                "agent did not authenticate again\n\(cluster.allLogs)")
        #expect(agent.isRunning)
    }

    /// Waits for a stderr line containing `text`; returns when it was first seen.
    private func waitForLog(_ child: ChildProcess, containing text: String, timeout: TimeInterval) throws -> Date {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if child.stderr.contains(text) { return Date() }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ClusterError("\(child.name) did not log '\(text)' within \(Int(timeout)) s\n\(child.stderr)")
    }
}
}
