// Message sequences as they cross a real RTSP connection, for the decoder tests
// and as fuzz seeds. Requests are what ffprobe (Lavf) sends to simcam; responses
// are shaped on a Hikvision camera's answers (Digest 401 with a Basic
// alternative, padded Session header, absolute control URLs) with RTP and RTCP
// interleaved between them as a camera sends keepalive answers mid-stream.

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func interleaved(_ channel: UInt8, _ payload: [UInt8]) -> [UInt8] {
    [0x24, channel, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
}

enum Captures {
    static let userAgent = "User-Agent: Lavf61.7.100\r\n"

    /// An RTCP receiver report (RFC 3550 §6.4.2) such as ffprobe sends on channel 1.
    static let receiverReport: [UInt8] = [
        0x81, 0xC9, 0x00, 0x07, 0x3A, 0x5B, 0x7C, 0x9D, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x2F, 0x3A, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    static let ffprobeToSimcam: [UInt8] =
        bytes("OPTIONS rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nCSeq: 1\r\n\(userAgent)\r\n")
        + bytes("DESCRIBE rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\n\(userAgent)\r\n")
        + bytes("SETUP rtsp://127.0.0.1:8554/cam/trackID=0 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
                + "CSeq: 3\r\n\(userAgent)\r\n")
        + bytes("PLAY rtsp://127.0.0.1:8554/cam/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 4\r\n\(userAgent)"
                + "Session: 1F2E3D4C5B6A7980\r\n\r\n")
        + interleaved(1, receiverReport)
        + bytes("GET_PARAMETER rtsp://127.0.0.1:8554/cam/ RTSP/1.0\r\nCSeq: 5\r\n\(userAgent)Session: 1F2E3D4C5B6A7980\r\n\r\n")
        + interleaved(1, receiverReport)
        + bytes("TEARDOWN rtsp://127.0.0.1:8554/cam/ RTSP/1.0\r\nCSeq: 6\r\n\(userAgent)Session: 1F2E3D4C5B6A7980\r\n\r\n")

    static let hikvisionSDP = """
        v=0\r
        o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64\r
        s=Media Presentation\r
        e=NONE\r
        b=AS:5050\r
        t=0 0\r
        a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast\r
        m=video 0 RTP/AVP 96\r
        c=IN IP4 0.0.0.0\r
        b=AS:5000\r
        a=recvonly\r
        a=x-dimensions:1920,1080\r
        a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast\r
        a=rtpmap:96 H264/90000\r
        a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=Z00AKp2oHgCJ+WbgICAoAAADAAgAAAMBlCA=,aO48gA==\r
        m=audio 0 RTP/AVP 0\r
        c=IN IP4 0.0.0.0\r
        b=AS:50\r
        a=recvonly\r
        a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast\r
        a=rtpmap:0 PCMU/8000\r
        a=Media_header:MEDIAINFO=494D4B48010100000400010010710110401F000000FA000000000000000000000000000000000000;\r
        a=appversion:1.0\r

        """

    static let rtpPacket: [UInt8] = [0x80, 0x60, 0x30, 0x39, 0x00, 0x01, 0x5F, 0x90, 0x2A, 0x1B, 0x3C, 0x4D,
                                     0x65, 0x88, 0x84, 0x00, 0x33, 0xFF]
    static let senderReport: [UInt8] = [
        0x80, 0xC8, 0x00, 0x06, 0x2A, 0x1B, 0x3C, 0x4D, 0xEB, 0x9A, 0x1C, 0x40, 0x80, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x5F, 0x90, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x40, 0x00,
    ]

    static let hikvisionToClient: [UInt8] =
        bytes("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER\r\n"
              + "Date:  Thu, Dec 03 2026 15:00:00 GMT\r\n\r\n")
        + bytes("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"
                + "WWW-Authenticate: Digest realm=\"IP Camera(C1234)\", nonce=\"a1b2c3d4e5f60718293a4b5c6d7e8f90\", stale=\"FALSE\"\r\n"
                + "WWW-Authenticate: Basic realm=\"IP Camera(C1234)\"\r\nDate:  Thu, Dec 03 2026 15:00:00 GMT\r\n\r\n")
        + bytes("RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\n"
                + "Content-Base: rtsp://192.168.1.64:554/Streaming/Channels/101/\r\n"
                + "Content-Length: \(hikvisionSDP.utf8.count)\r\n\r\n\(hikvisionSDP)")
        + bytes("RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession:       1273222592;timeout=60\r\n"
                + "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=2a1b3c4d;mode=\"play\"\r\n"
                + "Date:  Thu, Dec 03 2026 15:00:00 GMT\r\n\r\n")
        + bytes("RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession:       1273222592\r\n"
                + "RTP-Info: url=rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast;seq=12345;rtptime=90000\r\n"
                + "Date:  Thu, Dec 03 2026 15:00:00 GMT\r\n\r\n")
        + interleaved(0, rtpPacket)
        + interleaved(1, senderReport)
        + interleaved(0, rtpPacket)
        + bytes("RTSP/1.0 200 OK\r\nCSeq: 6\r\nDate:  Thu, Dec 03 2026 15:00:30 GMT\r\n\r\n")
        + interleaved(0, rtpPacket)
}
