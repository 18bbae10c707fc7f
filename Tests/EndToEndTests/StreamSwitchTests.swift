import Foundation
import Testing

/// DESIGN §9 "Media facts": switching a camera target from its main stream to
/// its substream means a new SDP and a new init segment. The operator switches
/// by setting the target's RTSP path in the registry; the pull ends and starts
/// on the new path, RTSP viewers of the target get a clean end (they hold a
/// stale SDP) and reconnect, and the browser output's next init names the new
/// picture size.
extension EndToEnd {
@Suite struct StreamSwitchTests {
    /// A WebSocket viewer that behaves like the player page: it prints every
    /// init message, and when the socket closes it reconnects (bounded) until
    /// an init with another picture size than the first arrives.
    static let reconnectingViewer = """
    import json, sys, time, websocket
    url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
    first = None
    while time.time() < deadline:
        try:
            ws = websocket.create_connection(url, timeout=5)
        except Exception as error:
            print("connect failed:", error, flush=True)
            time.sleep(0.5)
            continue
        try:
            while time.time() < deadline:
                message = ws.recv()
                if message in ("", b""):
                    print("closed", flush=True)
                    break
                if isinstance(message, str) and json.loads(message).get("type") == "init":
                    size = (json.loads(message)["width"], json.loads(message)["height"])
                    print("init %dx%d" % size, flush=True)
                    if first is None:
                        first = size
                    elif size != first:
                        sys.exit(0)
        except websocket.WebSocketTimeoutException:
            pass
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            print("closed", flush=True)
        time.sleep(0.5)
    sys.exit(1)
    """

    @Test func settingTheSubstreamPathSwitchesBrowsersToANewInitAndEndsRTSPViewersCleanly() throws {
        let media = try realisticMedia()
        func file(_ name: String) -> String { media.appendingPathComponent(name).path }
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaCamera(
            simcamArguments: ["--stream", "/main=\(file("main-h264.h264"))", "--stream", "/sub=\(file("sub-h264.h264"))"],
            agentConfig: { cluster in cluster.agentConfig(rtspPath: "/main") })
        let token = try cluster.viewerToken(target: "rtsp")
        let rtspURL = "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(token)"

        let browser = try cluster.spawn("switch-viewer", "/usr/bin/python3", [
            "-c", Self.reconnectingViewer, "ws://127.0.0.1:\(ports.web)/live/\(cluster.agentID)/rtsp?token=\(token)", "60",
        ])
        _ = try browser.waitForLine(startingWith: "init 1920x1080", timeout: 30)
        let ffmpeg = try #require(which("ffmpeg"), "ffmpeg is not installed (Scripts/test installs it)")
        let player = try cluster.spawn("switch-rtsp", ffmpeg, ["-v", "info", "-nostdin", "-rtsp_transport", "tcp", "-i", rtspURL,
                                                               "-t", "120", "-f", "null", "-"])
        _ = try player.waitForLine(startingWith: "  Stream #0:0", in: \.stderr, timeout: 30)
        Thread.sleep(forTimeInterval: 1)
        #expect(player.isRunning, "the RTSP player plays main before the switch:\n\(player.stderr)")

        let put = try apiRequest(port: cluster.endpointAdminPort, "PUT", "/api/agents/\(cluster.agentID)/targets/rtsp/media",
                                 headers: ["Authorization: Bearer \(cluster.adminToken)"], body: #"{"path":"/sub"}"#)
        #expect(put.code == 200, "\(put)")
        let switched = Date()

        // The RTSP player's SDP is stale: its connection ends, well before its own 120 s.
        let deadline = Date().addingTimeInterval(20)
        while player.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!player.isRunning, "the RTSP viewer of the old stream was not ended:\n\(player.stderr)")
        print("switch: the RTSP viewer ended \(String(format: "%.1f", Date().timeIntervalSince(switched))) s after the PUT")

        // The browser viewer reconnects by itself and gets the substream's init.
        _ = try browser.waitForLine(startingWith: "init 640x360", timeout: 30)
        print("switch: the browser viewer had the substream's init \(String(format: "%.1f", Date().timeIntervalSince(switched))) s after the PUT")

        // A player that reconnects now gets the substream, through the same URL.
        let after = try probeStreams(rtspURL, seconds: 3)
        let video = try #require(after.first { $0.type == "video" }, "\(after)\n\(cluster.allLogs)")
        #expect(video.width == 640 && video.height == 360 && video.frames >= 25, "\(video)")
        // The pull switched paths on the one target: one tunnel at a time, never one per viewer.
        #expect(cluster.tunnelsOpened(toPort: cluster.rtspPort) == 2, "\(cluster.agent?.stderr ?? "")")
    }
}
}
