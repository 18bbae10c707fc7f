import Foundation
import Testing

/// Resident memory of a process in KiB, from /proc.
func residentKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

extension EndToEnd {
@Suite struct BackpressureTests {
    /// A viewer that stops reading a fast source must stall only its own tunnel,
    /// and the agent must not buffer for it: each tunnel has two fixed queues.
    @Test func stalledViewerStallsOnlyItsOwnTunnelAndAgentMemoryStaysBounded() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scripts/lib/bulk.py").standardizedFileURL.path
        let python = try #require(which("python3"), "python3 is not installed")
        let bulk = try cluster.spawn("bulk", python, [script, "serve", "0"])
        let bulkPort = try Int(bulk.waitForLine(startingWith: "listening ")) ?? 0
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: "target = bulk=127.0.0.1:\(bulkPort)"))
        let videoURL = try cluster.viewerURL(target: "rtsp")
        let bulkURL = try cluster.viewerURL(target: "bulk")
        let bulkViewerPort = try port(fromAnnouncement: String(bulkURL.dropLast()))  // "tcp://host:port/"

        // The stalled viewer: takes 1 MiB to prove the tunnel flows, then stops reading.
        let stalled = try RawClient(port: bulkViewerPort)
        #expect(stalled.read(atLeast: 1 << 20).count >= 1 << 20)
        Thread.sleep(forTimeInterval: 2)  // every buffer on the path fills up
        let before = residentKiB(agent.process.processIdentifier)

        // Meanwhile a second tunnel still carries video.
        let frames = try countFrames(videoURL)
        #expect(frames >= 50, "video stalled along with the bulk viewer\n\(cluster.allLogs)")

        // The bulk source can produce gigabytes in these seconds; the agent holds none of them.
        let after = residentKiB(agent.process.processIdentifier)
        #expect(after - before < 1024, "agent RSS grew from \(before) KiB to \(after) KiB behind a stalled viewer")
        // The stalled tunnel is still alive and resumes when its viewer reads again.
        #expect(stalled.read(atLeast: 4 << 20).count >= 4 << 20)
        #expect(agent.isRunning)
    }
}
}
