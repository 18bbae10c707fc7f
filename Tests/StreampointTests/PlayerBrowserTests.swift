import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MediaCore
import NIOCore
import Testing

/// The player page in headless Chromium (Scripts/lib/player-browser.py) against
/// a test-only server that speaks LivePlayerProtocol the way the streampoint's
/// /live output will: the committed clip, muxed frame by frame, in real time at
/// 25 fps, looping. The first WebSocket ends after 40 frames, so the page must
/// reconnect by itself and start over on the new init. (Its queue bound and
/// drop-to-keyframe are not driven here: whether a burst overflows depends on
/// how fast Chromium drains it.) A second page is
/// announced H.265, which Chromium on Linux cannot decode through MSE: the page
/// must say so in words. Without Chromium the test fails, naming the package.
@Suite(.serialized) struct PlayerBrowserTests {
    static let token = "t0k3n-for-the-page"
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    actor Connections {
        private(set) var opened: [String] = []
        func open(_ target: String) -> Int {
            opened.append(target)
            return opened.filter { $0 == target }.count
        }
    }

    /// Serves /play/cam/<target> and streams /live/cam/rtsp (H.264) or announces /live/cam/hevc.
    static func startServer(frames: [MediaFrame], video: TrackDescription, connections: Connections)
        async throws -> (server: Task<Void, Error>, port: Int)
    {
        let router = Router()
        router.get("/play/:agent/:target") { _, _ -> Response in
            Response(status: .ok,
                     headers: [.contentType: "text/html; charset=utf-8",
                               .init("Content-Security-Policy")!: PlayerPage.contentSecurityPolicy],
                     body: .init(byteBuffer: ByteBuffer(string: PlayerPage.html)))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade { request, _, _ in
                let parts = (request.path ?? "").split(separator: "?", maxSplits: 1)
                guard parts.count == 2, parts[1] == "token=\(token)",
                      let target = ["/live/cam/rtsp": "rtsp", "/live/cam/hevc": "hevc"][String(parts[0])] else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in
                    let connection = await connections.open(target)
                    if target == "hevc" {
                        try await outbound.write(.text(LivePlayerProtocol.initMessage(codecs: "hvc1.1.6.L60.90", width: 320, height: 240)))
                        for try await _ in inbound.messages(maxSize: 1 << 10) {}
                        return
                    }
                    var muxer = try FMP4Muxer(tracks: [.init(video, frameTrack: 0)])
                    try await outbound.write(.text(LivePlayerProtocol.initMessage(for: muxer)))
                    try await outbound.write(.binary(ByteBuffer(bytes: LivePlayerProtocol.initSegmentMessage(muxer))))
                    let clock = ContinuousClock()
                    let start = clock.now
                    // Bounded: the first connection is cut short on purpose; later ones stop after 60 s.
                    for index in 0..<(connection == 1 ? 40 : 25 * 60) {
                        try await clock.sleep(until: start + .milliseconds(40 * index))
                        var frame = frames[index % frames.count]
                        frame.timestamp = 90_000 * 1000 + Int64(index) * 3600
                        let segment = try muxer.segment(frame)
                        try await outbound.write(.binary(ByteBuffer(bytes: LivePlayerProtocol.mediaSegmentMessage(segment))))
                    }
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: Logger(label: "player-test-server", factory: { _ in SwiftLogNoOpLogHandler() }))
        // Paced in real time: it must not wait for the cooperative pool (see DedicatedTaskExecutor).
        let executor = DedicatedTaskExecutor(label: "player-test-server")
        let server = Task {
            try await withTaskExecutorPreference(executor) { try await app.runService(gracefulShutdownSignals: []) }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            server.cancel()
            throw PlayerTestError("the player test server did not start")
        }
        return (server, port)
    }

    @Test func thePlayerPagePlaysLiveFMP4AndNamesACodecItCannotPlay() async throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw PlayerTestError("\(python) is not installed") }
        guard ["/usr/bin/chromium", "/usr/bin/chromium-browser"].contains(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw PlayerTestError("chromium is not installed: the player's browser test needs Debian's chromium and python3-websocket (apt-get install chromium python3-websocket)")
        }
        let clip = Array(try Data(contentsOf: Self.repository.appendingPathComponent("ServerStubs/SimCam/Media/clip.h264")))
        let (video, frames) = ClipFrames.h264(clip)
        #expect(frames.count == 100 && frames.filter(\.isKeyframe).count == 4)
        let connections = Connections()
        let (server, port) = try await Self.startServer(frames: frames, video: video, connections: connections)
        defer { server.cancel() }

        let artifacts = Self.repository.appendingPathComponent(".build/test-artifacts/player")
        try? FileManager.default.removeItem(at: artifacts)
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let base = "http://127.0.0.1:\(port)/play/cam"
        let script = Self.repository.appendingPathComponent("Scripts/lib/player-browser.py").path
        let (status, out, err) = try await runProcess(python, [script, "--play", "\(base)/rtsp?token=\(Self.token)",
                                                               "--unsupported", "\(base)/hevc?token=\(Self.token)",
                                                               "--out", artifacts.path], timeout: 90)
        guard status == 0, let seen = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else {
            throw PlayerTestError("player-browser.py failed (\(status)):\n\(err)\n\(out)")
        }
        print("player browser saw: \(out)")

        let play = seen["play"] as? [String: Any] ?? [:]
        #expect(play["state"] as? String == "streaming", "\(play)")
        #expect(play["codec"] as? String == "avc1.42c00d")
        #expect(play["resolution"] as? String == "320\u{D7}240")
        let latency = play["latency"] as? String ?? ""
        #expect(latency.contains(" s"), "latency shown: \(latency)")
        #expect(play["muted"] as? Bool == true && play["paused"] as? Bool == false, "autoplays muted")
        #expect((play["totalVideoFrames"] as? Int ?? 0) >= 50)
        let times = seen["currentTimes"] as? [Double] ?? []
        #expect(times.count == 2 && times[1] > times[0] + 0.5, "video.currentTime must advance: \(times)")
        let opened = await connections.opened
        #expect(opened.filter { $0 == "rtsp" }.count >= 2, "the page reconnects after the server ends the first socket: \(opened)")
        let gray = try #require(seen["playScreenshotGray"] as? [String: Any])
        let distinct = gray["distinct"] as? Int ?? 0, spread = gray["deviation"] as? Double ?? 0
        #expect(distinct >= 16 && spread >= 20, "the video screenshot looks flat: \(distinct) grey levels, deviation \(spread)")

        let unsupported = seen["unsupported"] as? [String: Any] ?? [:]
        #expect(unsupported["state"] as? String == "unsupported", "\(unsupported)")
        #expect(unsupported["message"] as? String == "This browser cannot play H.265 (hvc1.1.6.L60.90) video from this camera.")
        #expect(unsupported["codec"] as? String == "hvc1.1.6.L60.90")
        #expect(opened.filter { $0 == "hevc" }.count == 1, "no retry after an unsupported codec: \(opened)")
    }
}

struct PlayerTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The committed H.264 clip as the ingest hands it over: Annex-B split, one
/// length-prefixed access unit per frame (each slice here is one whole picture).
enum ClipFrames {
    static func h264(_ data: [UInt8]) -> (TrackDescription, [MediaFrame]) {
        let units = splitAnnexB(data)
        var frames: [MediaFrame] = []
        var pending: [UInt8] = []
        for unit in units {
            let count = UInt32(unit.count)
            pending += [UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
                        UInt8(truncatingIfNeeded: count)] + unit
            let type = unit[0] & 0x1F
            if type == 1 || type == 5 {
                frames.append(MediaFrame(codec: .h264, track: 0, timestamp: Int64(frames.count) * 3600, isKeyframe: type == 5, payload: pending))
                pending = []
            }
        }
        let sps = units.first { $0[0] & 0x1F == 7 } ?? []
        let pps = units.first { $0[0] & 0x1F == 8 } ?? []
        return (TrackDescription(codec: .h264, clockRate: 90000, payloadType: 96, sps: sps, pps: pps, width: 320, height: 240), frames)
    }
}

/// Runs a process with a deadline, its output in files (no pipe can fill up).
func runProcess(_ executable: String, _ arguments: [String], timeout: TimeInterval) async throws -> (Int32, String, String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("player-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    defer { try? out.close(); try? err.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw PlayerTestError("\(executable) did not finish within \(Int(timeout)) s")
    }
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

