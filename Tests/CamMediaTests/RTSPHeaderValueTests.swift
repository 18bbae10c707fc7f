import CamMedia
import Testing

@Suite struct RTSPTransportTests {
    @Test func interleavedTCP() throws {
        let transport = try #require(RTSPTransport.parse("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=2a1b3c4d;mode=\"play\""))
        #expect(transport.lowerTransport == .tcp && !transport.isMulticast)
        #expect(transport.interleaved == RTSPTransport.Pair(rtp: 2, rtcp: 3))
        #expect(transport.ssrc == 0x2A1B_3C4D)
        #expect(transport.mode == "play")
        #expect(transport.headerValue == "RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=2A1B3C4D;mode=\"play\"")
        #expect(RTSPTransport.parse(transport.headerValue) == transport)
    }

    @Test func udpAndMulticastAreToldApart() throws {
        let udp = try #require(RTSPTransport.parse("RTP/AVP;unicast;client_port=5000-5001"))
        #expect(udp.lowerTransport == .udp && udp.clientPort == RTSPTransport.Pair(rtp: 5000, rtcp: 5001))
        #expect(RTSPTransport.parse("RTP/AVP/UDP;unicast;client_port=5000")?.clientPort == RTSPTransport.Pair(rtp: 5000, rtcp: 5001))
        #expect(RTSPTransport.parse("RTP/AVP;multicast;ttl=127")?.isMulticast == true)
        #expect(RTSPTransport.parse("RAW/RAW/UDP;unicast") == nil)
        #expect(RTSPTransport.parse("RTP/AVP/SCTP;unicast") == nil)
    }

    /// What simcam (and the streampoint's server) accept: the first unicast TCP
    /// alternative, channels defaulting to 0-1; nil means "answer 461".
    @Test func choosingInterleavedChannels() {
        let pair = RTSPTransport.Pair.init(rtp:rtcp:)
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP;unicast;client_port=5000-5001") == nil)
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP/TCP;multicast;interleaved=0-1") == nil)
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=4-5")
                == pair(4, 5))
        #expect(RTSPTransport.firstInterleavedChannels(in: "rtp/avp/tcp;unicast") == pair(0, 1))
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP/TCP;interleaved=6") == pair(6, 7))
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP/TCP;interleaved=6-x") == pair(6, 7))
        // An alternative whose channels make no sense is skipped, not half-used.
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP/TCP;interleaved=255,RTP/AVP/TCP;interleaved=8-9") == pair(8, 9))
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP/TCP;interleaved=x-1") == nil)
        #expect(RTSPTransport.firstInterleavedChannels(in: "RTP/AVP/TCP;interleaved=300-301") == nil)
    }
}

@Suite struct RTSPSessionHeaderTests {
    @Test func parsesIdAndTimeout() {
        #expect(RTSPSessionHeader("1273222592;timeout=60") == RTSPSessionHeader(id: "1273222592", timeout: 60))
        #expect(RTSPSessionHeader("  ABC ; timeout=30 ") == RTSPSessionHeader(id: "ABC", timeout: 30))
        #expect(RTSPSessionHeader("abc") == RTSPSessionHeader(id: "abc"))
        #expect(RTSPSessionHeader("") == nil)
        #expect(RTSPSessionHeader(";timeout=5") == nil)
        #expect(RTSPSessionHeader(id: "1F2E", timeout: 60).headerValue == "1F2E;timeout=60")
        #expect(RTSPSessionHeader(id: "1F2E").headerValue == "1F2E")
    }
}

@Suite struct RTSPURLTests {
    @Test func controlResolution() {
        let base = "rtsp://192.168.1.64:554/Streaming/Channels/101/"
        #expect(RTSPURL.resolve(control: "trackID=1", base: base) == base + "trackID=1")
        #expect(RTSPURL.resolve(control: "trackID=1", base: "rtsp://cam/stream1") == "rtsp://cam/stream1/trackID=1")
        #expect(RTSPURL.resolve(control: "*", base: base) == base)
        #expect(RTSPURL.resolve(control: "", base: base) == base)
        #expect(RTSPURL.resolve(control: "rtsp://other:8554/x/trackID=2", base: base) == "rtsp://other:8554/x/trackID=2")
        #expect(RTSPURL.resolve(control: "RTSPS://other/x", base: base) == "RTSPS://other/x")
        #expect(RTSPURL.resolve(control: "/abs/track", base: "rtsp://user@cam:554/some/path/") == "rtsp://user@cam:554/abs/track")
        #expect(RTSPURL.resolve(control: "stream=1", base: "rtsp://cam/media.amp?videocodec=h264") == "rtsp://cam/media.amp/stream=1")
        #expect(RTSPURL.resolve(control: "trackID=0", base: "rtsp://h/a/?token=t") == "rtsp://h/a/trackID=0")
    }

    @Test func baseFromDescribeAnswer() {
        let withBase = RTSPResponse(status: 200, reason: "OK", headers: RTSPHeaders([
            (name: "Content-Location", value: "rtsp://loc/"), (name: "Content-Base", value: "rtsp://base/"),
        ]))
        #expect(RTSPURL.base(describeResponse: withBase, requestURL: "rtsp://req/") == "rtsp://base/")
        let withLocation = RTSPResponse(status: 200, reason: "OK", headers: RTSPHeaders([(name: "Content-Location", value: "rtsp://loc/")]))
        #expect(RTSPURL.base(describeResponse: withLocation, requestURL: "rtsp://req/") == "rtsp://loc/")
        #expect(RTSPURL.base(describeResponse: RTSPResponse(status: 200, reason: "OK"), requestURL: "rtsp://req/x") == "rtsp://req/x")
    }

    @Test func serverContentBase() {
        #expect(RTSPURL.contentBase(forRequestURI: "rtsp://127.0.0.1:8554/cam") == "rtsp://127.0.0.1:8554/cam/")
        #expect(RTSPURL.contentBase(forRequestURI: "rtsp://127.0.0.1:8554/cam/") == "rtsp://127.0.0.1:8554/cam/")
        #expect(RTSPURL.contentBase(forRequestURI: "rtsp://h/cam?token=abc#f") == "rtsp://h/cam/")
    }
}

@Suite struct RTSPEncoderTests {
    @Test func encodedMessagesDecodeToThemselves() throws {
        let request = RTSPRequest(method: "SETUP", uri: "rtsp://cam/trackID=0", headers: RTSPHeaders([
            (name: "CSeq", value: "3"), (name: "Transport", value: "RTP/AVP/TCP;unicast;interleaved=0-1"),
        ]))
        let response = RTSPResponse(status: 200, reason: "OK", headers: RTSPHeaders([
            (name: "CSeq", value: "2"), (name: "Content-Type", value: "application/sdp"),
        ]), body: bytes(Captures.hikvisionSDP))
        let frame = RTSPInterleavedFrame(channel: 1, payload: Captures.senderReport)
        var decoder = RTSPDecoder()
        decoder.append(RTSPEncoder.encode(.request(request)) + RTSPEncoder.encode(.response(response)) + RTSPEncoder.encode(.interleaved(frame)))
        #expect(try decoder.next() == .request(request))
        var expected = response
        expected.headers.fields.append((name: "Content-Length", value: "\(response.body.count)"))
        #expect(try decoder.next() == .response(expected))
        #expect(try decoder.next() == .interleaved(frame))
        #expect(try decoder.next() == nil)
    }

    @Test func exactBytes() {
        var response = RTSPResponse(status: 461, reason: "Unsupported Transport")
        response.headers.set("CSeq", "3")
        response.headers.set("Content-Length", "999")
        #expect(String(decoding: RTSPEncoder.encode(response), as: UTF8.self)
                == "RTSP/1.0 461 Unsupported Transport\r\nCSeq: 3\r\nContent-Length: 0\r\n\r\n")
        let request = RTSPRequest(method: "OPTIONS", uri: "*", headers: RTSPHeaders([(name: "CSeq", value: "1")]))
        #expect(String(decoding: RTSPEncoder.encode(request), as: UTF8.self) == "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        #expect(RTSPEncoder.encode(RTSPInterleavedFrame(channel: 5, payload: [9])) == [0x24, 5, 0, 1, 9])
    }

    @Test func headerLinesCannotBeInjected() {
        let response = RTSPResponse(status: 400, reason: "Bad Request", headers: RTSPHeaders([
            (name: "CSeq", value: "1\r\nSet-Cookie: x"), (name: "Bad Name", value: "v"), (name: "Server", value: "ok\tfine"),
        ]))
        #expect(String(decoding: RTSPEncoder.encode(response), as: UTF8.self)
                == "RTSP/1.0 400 Bad Request\r\nServer: ok\tfine\r\n\r\n")
    }
}
