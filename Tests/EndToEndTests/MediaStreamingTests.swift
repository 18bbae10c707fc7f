import CamNIO
import EndpointCore
import Foundation
import Testing

/// Issue 11 end to end: real simcam, agent, endpoint and streampoint processes;
/// real ffprobe as RTSP viewers; viewer tokens issued by the endpoint's API.
extension EndToEnd {
@Suite struct MediaStreamingTests {
    /// Reads `reply` as text for messages.
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The status code of one RTSP DESCRIBE of `uri` on a fresh connection.
    private func describeStatus(port: Int, uri: String, extraHeaders: String = "") throws -> Int {
        let client = try RawClient(port: port)
        client.send("DESCRIBE \(uri) RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\(extraHeaders)\r\n")
        let reply = text(client.read(atLeast: 12))
        guard reply.hasPrefix("RTSP/1.0 "), let code = Int(reply.dropFirst(9).prefix(3)) else {
            throw ClusterError("no RTSP status for DESCRIBE \(uri): \(reply)")
        }
        return code
    }

    private func httpStatus(_ url: String, headers: [String] = []) throws -> Int {
        let curl = try #require(which("curl"))
        var arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]
        for header in headers { arguments += ["-H", header] }
        let (_, out, _) = try run(curl, arguments + [url])
        return Int(out) ?? -1
    }

    /// Runs Scripts/lib/player-browser.py (headless Chromium) on a player URL; its JSON.
    private func playInChromium(_ url: String, out: String) throws -> [String: Any] {
        let script = Binaries.repository.appendingPathComponent("Scripts/lib/player-browser.py").path
        let (status, stdout, stderr) = try run("/usr/bin/python3", [script, "--play", url, "--out", out], timeout: 120)
        guard status == 0, let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw ClusterError("player-browser.py failed (\(status)): \(stderr)")
        }
        return object
    }

    @Test func tenRTSPViewersAndTwoBrowsersShareOneTunnel() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        // No linger: the pull's tunnel ends with its last viewer, and the agent
        // counts a tunnel's bytes in AGENT_STATS once it has ended.
        let ports = try cluster.startMediaCamera(streampointArguments: ["--pull-linger", "0"])
        let token = try cluster.viewerToken()
        let url = "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(token)"
        let uplinkBefore = try cluster.agentBytesToStreampoint()
        let closedBefore = cluster.tunnelsClosed()
        // One more RTSP viewer, which counts what it receives: it starts the pull
        // and leaves last, so its window is the pull's.
        let single = try CountingRTSPViewer(port: ports.rtsp, url: url)

        let player = "http://127.0.0.1:\(ports.web)/play/\(cluster.agentID)/rtsp?token=\(token)"

        let viewers = 10, browsers = 2
        var results = [Result<Int, Error>](repeating: .success(0), count: viewers)
        var pages = [Result<[String: Any], Error>](repeating: .success([:]), count: browsers)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: viewers + browsers) { index in
            if index < viewers {
                let result = Result { try countFrames(url, seconds: 8) }
                lock.lock(); results[index] = result; lock.unlock()
            } else {
                let result = Result { try playInChromium(player, out: cluster.path("browser-\(index)")) }
                lock.lock(); pages[index - viewers] = result; lock.unlock()
            }
        }
        let singleViewer = single.stop()
        let closed = (0..<150).contains { _ in
            if cluster.tunnelsClosed() > closedBefore { return true }
            Thread.sleep(forTimeInterval: 0.1)
            return false
        }
        #expect(closed, "the pull's tunnel must end with its last viewer\n\(cluster.agent?.stderr ?? "")")
        // A pull per viewer would send 13 streams' worth for 11 RTSP viewers and 2 browsers.
        let uplink = try cluster.agentBytesToStreampoint() - uplinkBefore
        let ratio = Double(uplink) / Double(max(singleViewer.bytes, 1))
        print(String(format: "media uplink: the camera sent %d bytes for %d RTSP viewers and %d browsers; one viewer received %d bytes in %.1f s; ratio %.3f (limit 1.15)",
                     uplink, viewers + 1, browsers, singleViewer.bytes, singleViewer.seconds, ratio))
        #expect(singleViewer.bytes > 100_000, "the counting viewer must have played: \(singleViewer)")
        #expect(ratio <= 1.15, "the camera's bytes sent (\(uplink), AGENT_STATS) must stay within 1.15× of one viewer's (\(singleViewer.bytes))")
        for (index, page) in pages.enumerated() {
            let seen: [String: Any]
            do { seen = try page.get() } catch { Issue.record("browser \(index): \(error)\n\(cluster.allLogs)"); continue }
            let play = seen["play"] as? [String: Any] ?? [:]
            #expect((play["totalVideoFrames"] as? Int ?? 0) >= 50, "browser \(index): \(play)")
            #expect(play["resolution"] as? String == "320\u{D7}240", "browser \(index): \(play)")
            let times = seen["currentTimes"] as? [Double] ?? []
            #expect(times.count == 2 && times[1] > times[0] + 0.5, "browser \(index): video.currentTime must advance: \(times)")
            let gray = seen["playScreenshotGray"] as? [String: Any] ?? [:]
            #expect((gray["distinct"] as? Int ?? 0) >= 16 && (gray["deviation"] as? Double ?? 0) >= 20,
                    "browser \(index): the screenshot looks flat: \(gray)")
        }
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let frames): #expect(frames >= 50, "viewer \(index): only \(frames) frames\n\(cluster.allLogs)")
            case .failure(let error): Issue.record("viewer \(index): \(error)\n\(cluster.allLogs)")
            }
        }
        #expect(cluster.tunnelsOpened(toPort: cluster.rtspPort) == 1, "one pull for every viewer\n\(cluster.agent?.stderr ?? "")\n\(cluster.streampoint.stderr)")
        // The pull stopped with its last viewer: /metrics shows no pull and no media viewers left,
        // and the latency the streampoint added was timed for the frames written.
        let metrics = try apiRequest(port: ports.admin, "GET", "/metrics").body
        #expect(metrics.contains("camagent_streampoint_media_pulls 0"), "\(metrics)")
        #expect(metrics.contains(#"camagent_streampoint_media_viewers{output="rtsp"} 0"#), "\(metrics)")
        for output in ["rtsp", "web"] {
            let count = metrics.split(separator: "\n").first { $0.hasPrefix(#"camagent_streampoint_media_added_latency_seconds_count{output="\#(output)"} "#) }
            #expect((count?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 100, "frames to \(output) viewers timed: \(count ?? "none")")
        }
        #expect(!cluster.allLogs.contains(token), "viewer tokens must never be logged")
    }

    @Test func everyViewerURLRefusesMissingForgedExpiredAndOtherCameraTokens() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaServersWithASecondCamera("cam-other")
        try cluster.startAgent()
        _ = try cluster.viewerURL(target: "rtsp")

        let good = try cluster.viewerToken()
        let otherCamera = try cluster.viewerToken(agent: "cam-other")
        let otherTarget = try cluster.viewerToken(target: "http")
        // The API's shortest lifetime is 60 s: sign one that ran out a minute ago
        // with the endpoint's own current key, read from its registry.
        let store = try SQLRegistryStore.open(RegistryLocation(argument: cluster.registry))
        let key = try #require(try store.viewerTokenKeys().first?.key)
        store.close()
        let now = UInt64(Date().timeIntervalSince1970)
        let expiring = ViewerToken(keyID: key.id, issuedAt: now - 120, expiresAt: now - 60, agentID: cluster.agentID, target: "rtsp")
            .signed(secret: key.secret)
        var forged = Array(good)
        forged[forged.count - 3] = forged[forged.count - 3] == "A" ? "B" : "A"

        let agent = cluster.agentID
        let refused: [(String, String?)] = [
            ("missing", nil), ("forged", String(forged)), ("expired", expiring),
            ("other camera", otherCamera), ("other target", otherTarget), ("garbage", "not-a-token"),
        ]
        for (name, token) in refused {
            let query = token.map { "?token=\($0)" } ?? ""
            #expect(try describeStatus(port: ports.rtsp, uri: "rtsp://127.0.0.1:\(ports.rtsp)/\(agent)/rtsp\(query)") == 401, "RTSP, \(name) token")
            #expect(try httpStatus("http://127.0.0.1:\(ports.web)/play/\(agent)/rtsp\(query)") == 401, "player, \(name) token")
            let upgrade = try httpStatus("http://127.0.0.1:\(ports.web)/live/\(agent)/rtsp\(query)", headers: [
                "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ])
            #expect(upgrade == 401, "WebSocket, \(name) token: \(upgrade)")
        }
        // The header form works as well as the query.
        #expect(try httpStatus("http://127.0.0.1:\(ports.web)/play/\(agent)/rtsp", headers: ["Authorization: Bearer \(good)"]) == 200)
        #expect(try httpStatus("http://127.0.0.1:\(ports.web)/play/\(agent)/rtsp?token=\(good)") == 200)
        #expect(try httpStatus("http://127.0.0.1:\(ports.web)/live/\(agent)/rtsp?token=\(good)", headers: [
            "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]) == 101)
        #expect(try describeStatus(port: ports.rtsp, uri: "rtsp://127.0.0.1:\(ports.rtsp)/\(agent)/rtsp?token=\(good)") == 200)
        let metrics = try apiRequest(port: ports.admin, "GET", "/metrics").body
        #expect(metrics.contains("camagent_streampoint_viewer_token_refusals_total 18"), "six bad tokens on three URLs\n\(metrics)")
        for token in [good, otherCamera, otherTarget, expiring] {
            #expect(!cluster.allLogs.contains(token), "viewer tokens must never be logged")
        }
    }

    @Test func aUDPSetupIsAnswered461SoPlayersFallBackToTCPAtOnce() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaCamera()
        let token = try cluster.viewerToken()
        let base = "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp"
        let client = try RawClient(port: ports.rtsp)
        client.send("DESCRIBE \(base)?token=\(token) RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        let described = text(client.read(atLeast: 200))
        #expect(described.hasPrefix("RTSP/1.0 200"), "\(described)")
        client.send("SETUP \(base)/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n")
        let refused = text(client.read(atLeast: 12))
        #expect(refused.hasPrefix("RTSP/1.0 461"), "\(refused)")
        // ffprobe's default order (UDP first) must still end up playing, over TCP.
        let ffprobe = try #require(which("ffprobe"))
        let (status, out, err) = try run(ffprobe, [
            "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames",
            "-of", "csv=p=0", "-read_intervals", "%+3", "\(base)?token=\(token)",
        ], timeout: 60)
        #expect(status == 0 && (Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 25, "\(out) \(err)")
    }

    @Test func thePullStopsTwentySecondsAfterTheLastViewerLeaves() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaCamera()
        let token = try cluster.viewerToken()
        let frames = try countFrames("rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(token)", seconds: 2)
        #expect(frames >= 25)
        let left = Date()
        while !cluster.streampoint.stderr.contains("pull stopped"), Date().timeIntervalSince(left) < 40 {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let elapsed = Date().timeIntervalSince(left)
        #expect(cluster.streampoint.stderr.contains("pull stopped"), "\(cluster.streampoint.stderr)")
        #expect(elapsed >= 18 && elapsed <= 25, "the pull stopped \(elapsed) s after the last viewer")
        let closed = (0..<100).contains { _ in
            if cluster.agent?.stderr.contains("tunnel 1: closed") == true { return true }
            Thread.sleep(forTimeInterval: 0.1)
            return false
        }
        #expect(closed, "the agent's tunnel must close with the pull\n\(cluster.agent?.stderr ?? "")")
    }
}
}

extension EndToEnd.MediaStreamingTests {
    /// The camera's RTSP server dies and comes back on the same port while a
    /// viewer plays: the pull reconnects with backoff and the viewer keeps its
    /// connection, carrying on with rebased timestamps.
    @Test func aCameraRestartMidStreamKeepsTheViewerConnected() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaCamera()
        let token = try cluster.viewerToken()
        let url = "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(token)"

        let restarter = Thread {
            Thread.sleep(forTimeInterval: 3)
            cluster.simcam.stop()
            Thread.sleep(forTimeInterval: 1)
            cluster.simcam = try? cluster.spawn("simcam-restarted", Binaries.host("camagent-simcam"),
                                                ["--rtsp-port", "\(cluster.rtspPort)", "--http-port", "0"])
        }
        restarter.start()
        // One viewer connection for 12 s of stream time across the restart.
        let frames = try countFrames(url, seconds: 12)
        #expect(frames >= 200, "only \(frames) frames across the camera restart\n\(cluster.streampoint.stderr)")
        #expect(cluster.simcam.stdout.contains("simcam: rtsp listening on"), "the camera came back")
        #expect(cluster.tunnelsOpened(toPort: cluster.rtspPort) >= 2, "the pull reconnected through a new tunnel")
    }
}

extension EndToEnd.MediaStreamingTests {
    /// An H.265 camera (simcam looping the realistic 1080p H.265 stream) plays
    /// through the streampoint's RTSP server, and its fMP4 WebSocket output,
    /// saved to a file without the kind bytes, is H.265 that ffprobe decodes.
    @Test func anH265CameraPlaysThroughRTSPAndAsFMP4() throws {
        let media = try realisticMedia()
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaCamera(simcamArguments: ["--clip", media.appendingPathComponent("main-h265.h265").path])
        let token = try cluster.viewerToken()
        let ffprobe = try #require(which("ffprobe"))

        let (status, out, err) = try run(ffprobe, [
            "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", "-read_intervals", "%+3",
            "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(token)",
        ], timeout: 60)
        #expect(status == 0, "\(err)")
        let fields = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
        #expect(fields.count == 4 && fields[0] == "hevc" && fields[1] == "1920" && fields[2] == "1080", "\(out)")
        #expect((Int(fields.last ?? "") ?? 0) >= 50, "\(out)")

        // The browser output, as a WebSocket client sees it, for 3 s.
        let saved = cluster.path("live.mp4")
        let live = "ws://127.0.0.1:\(ports.web)/live/\(cluster.agentID)/rtsp?token=\(token)"
        let initMessage = try saveLiveOutput(live, to: saved, seconds: 3)
        #expect(initMessage.contains(#""codec":"hvc1."#) && initMessage.contains(#""width":1920"#), "\(initMessage)")
        let (probeStatus, probed, probeError) = try run(ffprobe, [
            "-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", saved,
        ], timeout: 60)
        #expect(probeStatus == 0, "\(probeError)")
        let probedFields = probed.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
        #expect(probedFields.count == 4 && probedFields[0] == "hevc" && probedFields[1] == "1920", "\(probed)")
        #expect((Int(probedFields.last ?? "") ?? 0) >= 50, "\(probed)")
    }
}
