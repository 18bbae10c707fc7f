import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An idle camera should sleep: the agent's poll loop waits for its next
/// deadline or I/O, with no 1 s cap. Each time the single-threaded agent
/// sleeps in ppoll and wakes, the kernel counts a voluntary context switch
/// (/proc/PID/status), so the count over a quiet window is its wakeups, seen
/// from outside without any instrumentation.
extension EndToEnd {
@Suite struct IdleWakeupTests {
    @Test func anIdleAgentDoesNotWakeEverySecond() throws {
        let cluster = try Cluster()
        defer {
            cluster.stop()
            cluster.removeDirectory()
        }
        // Heartbeats every 10 s on both links (the servers' defaults).
        try cluster.startServers()
        let agent = try cluster.startAgent()
        _ = try cluster.viewerURL(target: "rtsp")
        // Let the start-up traffic (registration, the first report) settle.
        Thread.sleep(forTimeInterval: 2)
        let pid = agent.process.processIdentifier
        guard let before = voluntarySwitches(pid) else {
            throw ClusterError("cannot read /proc/\(pid)/status")
        }
        let window: TimeInterval = 10
        Thread.sleep(forTimeInterval: window)
        let after = voluntarySwitches(pid) ?? before
        let wakeups = after - before
        print("idle: the agent woke \(wakeups) times in \(Int(window)) s (heartbeats every 10 s on 2 links)")
        // A 1 s cap alone would be 10 wakeups; heartbeats on two links are about 4.
        #expect(wakeups < Int(window), "\(wakeups) wakeups in \(window) s\n\(agent.stderr)")
        #expect(agent.isRunning)

        // And a signal still ends the long sleep at once, even though the test
        // runner hands its children SIGTERM blocked (the agent opens it for its wait).
        let signalled = Date()
        kill(pid, SIGTERM)
        while agent.isRunning && Date().timeIntervalSince(signalled) < 5 { Thread.sleep(forTimeInterval: 0.01) }
        let exitSeconds = Date().timeIntervalSince(signalled)
        print("idle: SIGTERM ended the agent after \(String(format: "%.3f", exitSeconds)) s")
        #expect(exitSeconds < 2, "took \(exitSeconds) s")
        #expect(agent.stderr.contains("terminating on signal"))
    }

    private func voluntarySwitches(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
            return Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
}
