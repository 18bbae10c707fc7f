import Foundation
import Testing

/// Issue 11 §5: a viewer that stops reading costs only its own bounded queue.
/// A 1080p H.264 stream at 4 Mbit/s; one RTSP and one WebSocket viewer that
/// never read, two ffprobe viewers that decode throughout; the streampoint's
/// RSS is sampled every second.
extension EndToEnd {
@Suite struct MediaBackpressureTests {
    @Test func stalledRTSPAndWebSocketViewersNeitherGrowMemoryNorSlowOthers() throws {
        let media = try realisticMedia()
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        // Queues of 2 MiB, so that a stalled viewer overflows within the test
        // even after the kernel's socket buffers have taken their share.
        let ports = try cluster.startMediaCamera(simcamArguments: ["--clip", media.appendingPathComponent("main-h264.h264").path],
                                                 streampointArguments: ["--viewer-queue-kib", "2048"])
        let token = try cluster.viewerToken()
        let agent = cluster.agentID
        let pid = cluster.streampoint.process.processIdentifier
        let baseline = try residentSetKiB(pid)

        // The stalled viewers: each asks for the stream, then never reads a byte.
        var stalledRTSP: RawClient! = try RawClient(port: ports.rtsp)
        let base = "rtsp://127.0.0.1:\(ports.rtsp)/\(agent)/rtsp"
        stalledRTSP.send("DESCRIBE \(base)?token=\(token) RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        let described = String(decoding: stalledRTSP.read(atLeast: 200), as: UTF8.self)
        #expect(described.hasPrefix("RTSP/1.0 200"), "\(described)")
        stalledRTSP.send("SETUP \(base)/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
        _ = stalledRTSP.read(atLeast: 12)
        stalledRTSP.send("PLAY \(base) RTSP/1.0\r\nCSeq: 3\r\n\r\n")
        var stalledWeb: RawClient! = try RawClient(port: ports.web)
        stalledWeb.send("GET /live/\(agent)/rtsp?token=\(token) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")

        // Two viewers decode for 20 s while RSS is sampled.
        let seconds = 20
        var frames = [Result<Int, Error>](repeating: .success(0), count: 2)
        let lock = NSLock()
        var peak = baseline
        let sampler = Thread {
            for _ in 0..<(seconds + 5) {
                if let kib = try? residentSetKiB(pid) {
                    lock.lock(); peak = max(peak, kib); lock.unlock()
                }
                Thread.sleep(forTimeInterval: 1)
            }
        }
        sampler.start()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = Result { try countFrames("\(base)?token=\(token)", seconds: seconds) }
            lock.lock(); frames[index] = result; lock.unlock()
        }
        for result in frames {
            let count = try result.get()
            // 25 fps for 20 s, less start-up: the stalled viewers cost the others nothing.
            #expect(count >= 450, "a playing viewer decoded only \(count) frames in \(seconds) s\n\(cluster.streampoint.stderr)")
        }
        lock.lock(); let grown = peak - baseline; lock.unlock()
        // Two stalled queues (2 MiB each at most), the GOP cache (8 MiB) and socket buffers.
        #expect(grown < 64 * 1024, "the streampoint grew by \(grown) KiB with two stalled viewers")
        print("media backpressure: streampoint RSS \(baseline) KiB at start, peak +\(grown) KiB with two stalled viewers")

        // Once they go, the stalled viewers' skipped frames are counted and logged.
        stalledRTSP = nil
        stalledWeb = nil
        let logged = (0..<100).contains { _ in
            if cluster.streampoint.stderr.components(separatedBy: "skipped").count - 1 >= 2 { return true }
            Thread.sleep(forTimeInterval: 0.1)
            return false
        }
        #expect(logged, "each stalled viewer's skips must be logged when it leaves\n\(cluster.streampoint.stderr)")
    }
}
}
