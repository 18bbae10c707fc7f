import CamProtocol
import Foundation
import Testing

/// Decoded video frames ffprobe reads from `url` in `seconds` of stream time.
func countFrames(_ url: String, seconds: Int = 4) throws -> Int {
    guard let ffprobe = which("ffprobe") else { throw ClusterError("ffprobe is not installed (Scripts/test installs ffmpeg)") }
    let (status, out, err) = try run(ffprobe, [
        "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0", "-count_frames",
        "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", "-read_intervals", "%+\(seconds)", url,
    ], timeout: 60)
    guard status == 0, let frames = Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw ClusterError("ffprobe \(url) failed (status \(status)): \(out) \(err)")
    }
    return frames
}

/// Real processes on loopback: simcam → agent → streampoint → ffprobe/curl.
extension EndToEnd {
@Suite struct StreamingTests {
    @Test func ffprobeDecodesVideoThroughTheStreampoint() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        let frames = try countFrames(url)
        #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        #expect(cluster.agent?.isRunning == true)
    }

    @Test func twoViewersAtOnceBothDecode() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        var results: [Result<Int, Error>] = [.success(0), .success(0)]
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = Result { try countFrames(url) }
            lock.lock()
            results[index] = result
            lock.unlock()
        }
        for result in results {
            let frames = try result.get()
            #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        }
        // Both went through their own tunnels.
        #expect(cluster.agent!.stderr.components(separatedBy: ": open to ").count - 1 >= 2)
    }

    @Test func snapshotThroughTheStreampointIsAValidJPEG() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let base = try cluster.viewerURL(target: "http")
        let file = cluster.path("snapshot.jpg")
        let curl = try #require(which("curl"), "curl is not installed")
        let (status, _, err) = try run(curl, ["-sSf", "--max-time", "20", "-o", file, "\(base)snapshot.jpg"])
        #expect(status == 0, "curl failed: \(err)\n\(cluster.allLogs)")
        let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data())
        #expect(bytes.count > 1000)
        #expect(bytes.starts(with: [0xFF, 0xD8, 0xFF]), "not a JPEG start of image")
        #expect(bytes.suffix(2) == [0xFF, 0xD9], "JPEG end of image missing")
        let ffprobe = try #require(which("ffprobe"))
        let (probeStatus, codec, _) = try run(ffprobe, ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", file])
        #expect(probeStatus == 0 && codec.contains("mjpeg"), "ffprobe says: \(codec)")
    }

    /// The x86_64 agent built as Embedded Swift, static against musl.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CAMAGENT_CROSS_X86_64"] != nil,
                   "set CAMAGENT_CROSS_X86_64 to the cross-built agent (Scripts/test does)"))
    func embeddedX86AgentStreams() throws {
        let binary = ProcessInfo.processInfo.environment["CAMAGENT_CROSS_X86_64"]!
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent(binary: binary, runner: "")
        let url = try cluster.viewerURL(target: "rtsp")
        let frames = try countFrames(url)
        #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        #expect(cluster.agent!.stderr.contains("x86_64-linux (embedded)"), "not the embedded build:\n\(cluster.agent!.stderr)")
    }

    /// The armv7 agent, cross-built as Embedded Swift against musl, under qemu.
    /// Scripts/test builds it and sets CAMAGENT_CROSS_ARMV7.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CAMAGENT_CROSS_ARMV7"] != nil,
                   "set CAMAGENT_CROSS_ARMV7 to the cross-built agent (Scripts/test does)"))
    func crossBuiltArmv7AgentStreamsUnderQemu() throws {
        let binary = ProcessInfo.processInfo.environment["CAMAGENT_CROSS_ARMV7"]!
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent(binary: binary, runner: "qemu-arm-static -cpu cortex-a7")
        let url = try cluster.viewerURL(target: "rtsp", timeout: 60)
        let frames = try countFrames(url)
        #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        #expect(cluster.agent!.stderr.contains("arm-linux (embedded)"), "not the embedded ARM build:\n\(cluster.agent!.stderr)")
    }
}
}
