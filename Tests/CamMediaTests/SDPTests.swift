import CamMedia
import Testing

enum CameraSDPs {
    static let hikvisionH264 = Captures.hikvisionSDP

    /// A Dahua-style H.265 main stream: session-level `control:*`, relative track control.
    static let dahuaH265 = """
        v=0\r
        o=- 2252327710 2252327710 IN IP4 192.168.1.108\r
        s=Media Server\r
        c=IN IP4 0.0.0.0\r
        t=0 0\r
        a=control:*\r
        a=packetization-supported:DH\r
        a=rtppayload-supported:DH\r
        a=range:npt=now-\r
        m=video 0 RTP/AVP 98\r
        a=control:trackID=0\r
        a=framerate:25.000000\r
        a=rtpmap:98 H265/90000\r
        a=fmtp:98 profile-id=1;sprop-sps=QgEBAWAAAAMAsAAAAwAAAwB7oAPAgBDlja5JMvTcBAQEAg==;sprop-pps=RAHA8vA8kAA=;sprop-vps=QAEMAf//AWAAAAMAsAAAAwAAAwB7rAk=\r
        a=recvonly\r

        """

    /// An Axis-style description with H.264 and AAC (mpeg4-generic), bare LF line endings.
    static let axisH264AAC = """
        v=0
        o=- 1234567890123456789 1 IN IP4 192.168.0.90
        s=Session streamed with GStreamer
        i=rtsp-server
        t=0 0
        a=tool:GStreamer
        a=type:broadcast
        a=range:npt=now-
        a=control:rtsp://192.168.0.90/axis-media/media.amp?videocodec=h264
        m=video 0 RTP/AVP 96
        c=IN IP4 0.0.0.0
        b=AS:50000
        a=rtpmap:96 H264/90000
        a=fmtp:96 packetization-mode=1;profile-level-id=4d0029;sprop-parameter-sets=Z00AKeKQDwBE/LgLcBAQGkHiRFQ=,aO48gA==
        a=ts-refclk:local
        a=mediaclk:sender
        a=recvonly
        a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=0?videocodec=h264
        a=framerate:25.000000
        m=audio 0 RTP/AVP 97
        c=IN IP4 0.0.0.0
        b=AS:32
        a=rtpmap:97 MPEG4-GENERIC/16000/1
        a=fmtp:97 streamtype=5;profile-level-id=15;mode=AAC-hbr;config=1408;sizelength=13;indexlength=3;indexdeltalength=3;profile=1;bitrate=32000
        a=recvonly
        a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=1?videocodec=h264
        m=application 0 RTP/AVP 107
        a=rtpmap:107 vnd.onvif.metadata/90000
        a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=2?videocodec=h264

        """

    /// A doorbell-style G.711 A-law track with no rtpmap (static payload type 8).
    static let staticPCMA = """
        v=0\r
        o=- 0 0 IN IP4 10.0.0.9\r
        s=Door\r
        t=0 0\r
        m=audio 0 RTP/AVP 8\r
        a=control:track2\r

        """
}

@Suite struct SDPTests {
    func parsedAndRoundTripped(_ text: String) throws -> SessionDescription {
        let parsed = try SessionDescription(parsing: text)
        let again = try SessionDescription(parsing: parsed.text)
        #expect(again == parsed, "written back out, the description must parse to the same value")
        #expect(again.text == parsed.text)
        return parsed
    }

    @Test func hikvisionH264WithPCMU() throws {
        let sdp = try parsedAndRoundTripped(CameraSDPs.hikvisionH264)
        #expect(sdp.name == "Media Presentation")
        #expect(sdp.bandwidths == ["AS:5050"])
        #expect(sdp.media.count == 2)
        let video = sdp.media[0]
        #expect(video.kind == "video" && video.payloadType == 96 && video.codec == .h264)
        #expect(video.bandwidthKbps == 5000)
        #expect(video.control == "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast")
        #expect(video.formatParameters["Packetization-Mode"] == "1")
        #expect(video.formatParameters["profile-level-id"] == "420029")
        let track = try #require(video.trackDescription())
        #expect(track.clockRate == 90000)
        #expect(track.sps.first == 0x67 && track.sps.count == 26)
        #expect(track.pps == [0x68, 0xEE, 0x3C, 0x80])
        let audio = try #require(sdp.media[1].trackDescription())
        #expect(audio == TrackDescription(codec: .pcmu, clockRate: 8000, payloadType: 0))
        #expect(sdp.trackDescriptions.count == 2)
    }

    @Test func dahuaH265() throws {
        let sdp = try parsedAndRoundTripped(CameraSDPs.dahuaH265)
        #expect(sdp.control == "*")
        #expect(sdp.connection == "IN IP4 0.0.0.0")
        let media = sdp.media[0]
        #expect(media.frameRate == "25.000000")
        let track = try #require(media.trackDescription())
        #expect(track.codec == .h265 && track.payloadType == 98 && track.clockRate == 90000)
        #expect(track.vps.first.map { $0 >> 1 & 0x3F } == 32)
        #expect(track.sps.first.map { $0 >> 1 & 0x3F } == 33)
        #expect(track.pps == [0x44, 0x01, 0xC0, 0xF2, 0xF0, 0x3C, 0x90, 0x00])
    }

    @Test func axisH264AndAACWithMetadata() throws {
        let sdp = try parsedAndRoundTripped(CameraSDPs.axisH264AAC)
        #expect(sdp.information == "rtsp-server")
        #expect(sdp.media.count == 3)
        let audio = sdp.media[1]
        #expect(audio.rtpMap == SDPRTPMap(encoding: "MPEG4-GENERIC", clockRate: 16000, channels: 1))
        #expect(audio.formatParameters.integer("sizelength") == 13)
        #expect(audio.formatParameters.integer("indexlength") == 3)
        #expect(audio.formatParameters.integer("indexdeltalength") == 3)
        #expect(audio.formatParameters["mode"] == "AAC-hbr")
        let track = try #require(audio.trackDescription())
        #expect(track == TrackDescription(codec: .aac, clockRate: 16000, payloadType: 97, audioConfig: [0x14, 0x08]))
        // ONVIF metadata is not a codec CamMedia carries; its index still counts.
        #expect(sdp.media[2].codec == nil)
        #expect(sdp.trackDescriptions.map { $0?.codec } == [.h264, .aac, nil])
    }

    @Test func staticPayloadTypeWithoutRTPMap() throws {
        let sdp = try parsedAndRoundTripped(CameraSDPs.staticPCMA)
        #expect(sdp.media[0].trackDescription() == TrackDescription(codec: .pcma, clockRate: 8000, payloadType: 8))
    }

    @Test func writtenTracksParseBackToTheSameTracks() throws {
        let hikvision = try SessionDescription(parsing: CameraSDPs.hikvisionH264)
        let dahua = try SessionDescription(parsing: CameraSDPs.dahuaH265)
        let axis = try SessionDescription(parsing: CameraSDPs.axisH264AAC)
        let tracks = [
            try #require(hikvision.media[0].trackDescription()), try #require(hikvision.media[1].trackDescription()),
            try #require(dahua.media[0].trackDescription()), try #require(axis.media[1].trackDescription()),
            TrackDescription(codec: .aac, clockRate: 48000, payloadType: 97, audioConfig: [0x11, 0x90], channels: 2),
            TrackDescription(codec: .pcma, clockRate: 8000, payloadType: 8),
        ]
        var written = SessionDescription(
            origin: SessionDescription.origin(sessionID: 42, address: "::1"), name: "camagent",
            connection: "IN IP6 ::", attributes: [SDPAttribute("control", "*")])
        for (index, track) in tracks.enumerated() {
            written.media.append(SDPMedia(track: track, control: "trackID=\(index)", bandwidthKbps: 100,
                                          extraAttributes: [SDPAttribute("recvonly")]))
        }
        #expect(written.origin == "- 42 1 IN IP6 ::1")
        let parsed = try SessionDescription(parsing: written.text)
        #expect(parsed == written)
        #expect(parsed.trackDescriptions == tracks.map { Optional($0) })
        #expect(parsed.media.map(\.control) == (0..<tracks.count).map { "trackID=\($0)" })
        #expect(parsed.media[0].formatParameters["profile-level-id"] == "4D002A")
        #expect(parsed.media[4].rtpMap == SDPRTPMap(encoding: "MPEG4-GENERIC", clockRate: 48000, channels: 2))
    }

    @Test func simcamStyleH264Section() throws {
        let sps: [UInt8] = [0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9]
        let media = SDPMedia(track: TrackDescription(codec: .h264, clockRate: 90000, payloadType: 96, sps: sps, pps: [0x68, 0xEB]),
                             control: "trackID=0", bandwidthKbps: 812,
                             extraAttributes: [SDPAttribute("framerate", "25"), SDPAttribute("framesize", "96 1280-720")])
        let text = SessionDescription(origin: "- 1 1 IN IP4 127.0.0.1", name: "s", media: [media]).text
        #expect(text.hasSuffix("""
            m=video 0 RTP/AVP 96\r
            b=AS:812\r
            a=rtpmap:96 H264/90000\r
            a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAH6zZ,aOs=;profile-level-id=64001F\r
            a=framerate:25\r
            a=framesize:96 1280-720\r
            a=control:trackID=0\r

            """))
    }

    @Test func errors() {
        #expect(throws: SDPError.notSDP) { try SessionDescription(parsing: "") }
        #expect(throws: SDPError.notSDP) { try SessionDescription(parsing: "RTSP/1.0 200 OK\r\n") }
        #expect(throws: SDPError.notSDP) { try SessionDescription(parsing: "v=1\r\n") }
        #expect(throws: SDPError.notSDP) { try SessionDescription(parsing: "s=x\r\nv=0\r\n") }
        #expect(throws: SDPError.badMediaLine) { try SessionDescription(parsing: "v=0\r\nm=video 0 RTP/AVP\r\n") }
        #expect(throws: SDPError.badMediaLine) { try SessionDescription(parsing: "v=0\r\nm=video x RTP/AVP 96\r\n") }
        let many = "v=0\r\n" + String(repeating: "m=audio 0 RTP/AVP 0\r\n", count: 17)
        #expect(throws: SDPError.tooManyMedia) { try SessionDescription(parsing: many) }
        // Unparseable parameter sets leave the track without them rather than failing it.
        let bad = try? SessionDescription(parsing: "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=!!!,aOs=\r\n")
        #expect(bad?.media[0].trackDescription()?.pps == [0x68, 0xEB])
        #expect(bad?.media[0].trackDescription()?.sps == [])
    }
}

@Suite struct Base64AndHexTests {
    @Test func rfc4648Vectors() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                       ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(bytes(plain)) == encoded)
            #expect(Base64.decode(encoded) == bytes(plain))
        }
        #expect(Base64.decode("Zm9vYg") == bytes("foob"))
        #expect(Base64.decode("Zg=a") == nil)
        #expect(Base64.decode("Z") == nil)
        #expect(Base64.decode("Zm9v YmFy") == nil)
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
    }

    @Test func hex() {
        #expect(HexText.encode([0x14, 0x08, 0xAB]) == "1408AB")
        #expect(HexText.encode([0xAB], uppercase: false) == "ab")
        #expect(HexText.decode("1408aB") == [0x14, 0x08, 0xAB])
        #expect(HexText.decode("140") == nil)
        #expect(HexText.decode("1g") == nil)
    }
}
