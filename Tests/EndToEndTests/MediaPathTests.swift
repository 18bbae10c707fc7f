import Foundation
import Testing

/// DESIGN §9 "Targets with paths", end to end: one simcam serving a camera's
/// main stream (1080p H.264 with AAC audio) at /main and its substream
/// (640x360) at /sub; one agent with `target = rtsp=…/main` and
/// `target = rtsp-sub=…/sub`; the streampoint pulls each target's own path.
extension EndToEnd {
@Suite struct MediaPathTests {
    @Test func mainAndSubstreamTargetsPlayTheirOwnPathsAndMainCarriesAudio() throws {
        let media = try realisticMedia()
        func file(_ name: String) -> String { media.appendingPathComponent(name).path }
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaCamera(
            simcamArguments: ["--stream", "/main=\(file("main-h264.h264")),audio=\(file("main-h264.aac"))",
                              "--stream", "/sub=\(file("sub-h264.h264"))"],
            agentConfig: { cluster in
                cluster.agentConfig(rtspPath: "/main", extra: "target = rtsp-sub=127.0.0.1:\(cluster.rtspPort)/sub")
            })
        _ = try cluster.viewerURL(target: "rtsp-sub")

        // simcam itself: the two paths, and nothing else, now that it serves named streams.
        let describe = { (path: String) throws -> String in
            let client = try RawClient(port: cluster.rtspPort)
            client.send("DESCRIBE rtsp://127.0.0.1:\(cluster.rtspPort)\(path) RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n")
            return String(decoding: client.read(atLeast: 12), as: UTF8.self)
        }
        #expect(try describe("/nowhere").hasPrefix("RTSP/1.0 404"))
        let mainSDP = try describe("/main")
        #expect(mainSDP.hasPrefix("RTSP/1.0 200") && mainSDP.contains("MPEG4-GENERIC/48000"), "\(mainSDP)")

        // RTSP viewers of each target, through the streampoint.
        let main = try probeStreams(
            "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(try cluster.viewerToken(target: "rtsp"))", seconds: 4)
        let mainVideo = try #require(main.first { $0.type == "video" }, "\(main)\n\(cluster.allLogs)")
        #expect(mainVideo.codec == "h264" && mainVideo.width == 1920 && mainVideo.height == 1080, "\(mainVideo)")
        #expect(mainVideo.frames >= 50, "\(mainVideo)")
        let mainAudio = try #require(main.first { $0.type == "audio" }, "no audio stream: \(main)\n\(cluster.allLogs)")
        // 4 s of 48 kHz AAC is about 187 frames of 1024 samples.
        #expect(mainAudio.codec == "aac" && mainAudio.frames >= 50, "\(mainAudio)")

        let sub = try probeStreams(
            "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp-sub?token=\(try cluster.viewerToken(target: "rtsp-sub"))", seconds: 4)
        #expect(sub.count == 1, "the substream has no audio: \(sub)")
        let subVideo = try #require(sub.first { $0.type == "video" }, "\(sub)")
        #expect(subVideo.codec == "h264" && subVideo.width == 640 && subVideo.height == 360 && subVideo.frames >= 50, "\(subVideo)")

        // The browser output of main: video and audio in one fragmented MP4.
        let saved = cluster.path("main-live.mp4")
        let token = try cluster.viewerToken(target: "rtsp")
        let initMessage = try saveLiveOutput("ws://127.0.0.1:\(ports.web)/live/\(cluster.agentID)/rtsp?token=\(token)", to: saved, seconds: 4)
        #expect(initMessage.contains("mp4a.40.2") && initMessage.contains(#""width":1920"#), "\(initMessage)")
        let file = try probeStreams(saved)
        let fileVideo = try #require(file.first { $0.type == "video" }, "\(file)")
        let fileAudio = try #require(file.first { $0.type == "audio" }, "no audio in the fMP4: \(file)")
        #expect(fileVideo.codec == "h264" && fileVideo.width == 1920 && fileVideo.frames >= 50, "\(fileVideo)")
        #expect(fileAudio.codec == "aac" && fileAudio.frames >= 50, "\(fileAudio)")

        // One pull per target: the agent opened one tunnel for each, however many viewers came.
        #expect(cluster.tunnelsOpened(toPort: cluster.rtspPort) == 2, "\(cluster.agent?.stderr ?? "")")
    }
}
}
