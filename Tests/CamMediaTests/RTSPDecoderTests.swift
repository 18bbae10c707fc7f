import CamMedia
import Testing

/// What a decode produced: the messages, then the error that stopped it (if any).
struct DecodeOutcome: Equatable {
    var messages: [RTSPMessage] = []
    var errors: [RTSPDecodeError] = []
    var leftover = 0
}

/// Feeds `pieces` in order, draining after each; framed errors are recorded and
/// decoding goes on, as simcam's server does; a lost framing stops it.
func decode(_ pieces: [[UInt8]]) -> DecodeOutcome {
    var decoder = RTSPDecoder()
    var outcome = DecodeOutcome()
    for (index, piece) in pieces.enumerated() {
        decoder.append(piece)
        for _ in 0..<10_000 {
            do {
                guard let message = try decoder.next() else { break }
                outcome.messages.append(message)
            } catch {
                outcome.errors.append(error)
                if error.isFramingLost {
                    // What a connection would never read: what is buffered and what had yet to come.
                    outcome.leftover = decoder.bufferedCount + pieces[(index + 1)...].reduce(0) { $0 + $1.count }
                    return outcome
                }
            }
        }
    }
    outcome.leftover = decoder.bufferedCount
    return outcome
}

/// The same bytes all at once, one at a time and in uneven pieces.
func decodeEveryWay(_ input: [UInt8]) -> DecodeOutcome {
    let whole = decode([input])
    #expect(decode(input.map { [$0] }) == whole, "byte by byte differs from one chunk")
    var pieces: [[UInt8]] = []
    var index = 0
    var size = 1
    while index < input.count {
        let end = min(input.count, index + size)
        pieces.append(Array(input[index..<end]))
        index = end
        size = size % 37 + 3
    }
    #expect(decode(pieces) == whole, "uneven pieces differ from one chunk")
    return whole
}

@Suite struct RTSPDecoderTests {
    @Test func ffprobeRequestsToSimcam() throws {
        let outcome = decodeEveryWay(Captures.ffprobeToSimcam)
        #expect(outcome.errors.isEmpty)
        #expect(outcome.leftover == 0)
        let methods = outcome.messages.map { message -> String in
            switch message {
            case .request(let request): return request.method
            case .interleaved(let frame): return "$\(frame.channel):\(frame.payload.count)"
            case .response: return "response"
            }
        }
        #expect(methods == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "$1:32", "GET_PARAMETER", "$1:32", "TEARDOWN"])
        guard case .request(let setup) = outcome.messages[2] else { Issue.record("no SETUP"); return }
        #expect(setup.uri == "rtsp://127.0.0.1:8554/cam/trackID=0")
        #expect(setup.headers["cseq"] == "3")
        #expect(setup.headers["Transport"] == "RTP/AVP/TCP;unicast;interleaved=0-1")
        #expect(setup.body.isEmpty)
        guard case .interleaved(let report) = outcome.messages[4] else { Issue.record("no RTCP"); return }
        #expect(report.payload == Captures.receiverReport)
    }

    @Test func cameraResponsesWithInterleavedDataBetween() throws {
        let outcome = decodeEveryWay(Captures.hikvisionToClient)
        #expect(outcome.errors.isEmpty)
        #expect(outcome.leftover == 0)
        #expect(outcome.messages.count == 10)
        guard case .response(let unauthorized) = outcome.messages[1],
            case .response(let describe) = outcome.messages[2],
            case .response(let setup) = outcome.messages[3],
            case .interleaved(let rtp) = outcome.messages[5],
            case .interleaved(let rtcp) = outcome.messages[6],
            case .response(let keepalive) = outcome.messages[8]
        else { Issue.record("unexpected message order"); return }
        #expect(unauthorized.status == 401)
        #expect(unauthorized.reason == "Unauthorized")
        #expect(unauthorized.headers.fields.filter { asciiCaseInsensitiveEqual($0.name, "WWW-Authenticate") }.count == 2)
        #expect(describe.body == bytes(Captures.hikvisionSDP))
        #expect(describe.headers["Content-Base"] == "rtsp://192.168.1.64:554/Streaming/Channels/101/")
        #expect(RTSPSessionHeader(setup.headers["Session"] ?? "") == RTSPSessionHeader(id: "1273222592", timeout: 60))
        #expect(rtp.channel == 0 && rtp.payload == Captures.rtpPacket)
        #expect(rtcp.channel == 1 && rtcp.payload == Captures.senderReport)
        #expect(keepalive.headers["CSeq"] == "6")
    }

    @Test func blankLinesBareLineFeedsAndFoldedHeaders() throws {
        let input = bytes("\r\n\r\nOPTIONS * RTSP/1.0\nCSeq: 7\nX-Long: first\n  second\n\nRTSP/1.0 200\r\nCSeq: 8\r\n\r\n")
        let outcome = decodeEveryWay(input)
        #expect(outcome.errors.isEmpty)
        guard outcome.messages.count == 2, case .request(let options) = outcome.messages[0],
            case .response(let response) = outcome.messages[1]
        else { Issue.record("expected a request and a response"); return }
        #expect(options.uri == "*")
        #expect(options.headers["X-Long"] == "first second")
        #expect(response.status == 200 && response.reason == "")
    }

    /// Found by the fuzzer: folding onto an empty value, or an empty
    /// continuation, must not leave spaces the encoder's output would lose.
    @Test func foldedValuesStayTrimmed() throws {
        var decoder = RTSPDecoder()
        decoder.append(bytes("RTSP/1.0 200 \r\nCSeq:\r\n  b\r\nX: a\r\n   \r\n\r\n"))
        guard case .response(let response)? = try decoder.next() else { Issue.record("no response"); return }
        #expect(response.headers["CSeq"] == "b")
        #expect(response.headers["X"] == "a")
        var again = RTSPDecoder()
        again.append(RTSPEncoder.encode(response))
        #expect(try again.next() == .response(response))
    }

    @Test func largestInterleavedFrameAndEmptyOne() throws {
        let payload = (0..<65535).map { UInt8(truncatingIfNeeded: $0) }
        var decoder = RTSPDecoder()
        decoder.append(interleaved(2, payload) + interleaved(3, []))
        #expect(try decoder.next() == .interleaved(RTSPInterleavedFrame(channel: 2, payload: payload)))
        #expect(try decoder.next() == .interleaved(RTSPInterleavedFrame(channel: 3, payload: [])))
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedCount == 0)
    }

    @Test func requestBodyIsFramedByContentLength() throws {
        let input = bytes("SET_PARAMETER rtsp://cam/ RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 12\r\n\r\nbarparam: 1\nOPTIONS * RTSP/1.0\r\nCSeq: 10\r\n\r\n")
        let outcome = decodeEveryWay(input)
        #expect(outcome.errors.isEmpty)
        guard outcome.messages.count == 2, case .request(let set) = outcome.messages[0] else {
            Issue.record("expected two requests"); return
        }
        #expect(set.body == bytes("barparam: 1\n"))
    }

    // MARK: errors

    @Test func nonRTSPBytesAreRejectedAtOnce() {
        for start: UInt8 in [0x00, 0x16, 0x80, 0xFF, 0x20, 0x7B] {
            var decoder = RTSPDecoder()
            decoder.append([start] + bytes("GET / HTTP/1.1\r\n\r\n"))
            #expect(throws: RTSPDecodeError.badMessageStart(start)) { try decoder.next() }
        }
        // A TLS ClientHello on a plain RTSP port fails on its first byte.
        #expect(decodeEveryWay([0x16, 0x03, 0x01, 0x02, 0x00]).errors == [.badMessageStart(0x16)])
    }

    @Test func endlessHeaderFailsAtTheBoundNotLater() {
        var decoder = RTSPDecoder()
        decoder.append(bytes("OPTIONS * RTSP/1.0\r\n"))
        var thrown: RTSPDecodeError?
        var fedAtError = 0
        for index in 0..<20_000 {
            decoder.append(UInt8(ascii: index % 50 == 49 ? "\n" : "a"))
            do { _ = try decoder.next() } catch {
                thrown = error
                fedAtError = decoder.bufferedCount
                break
            }
        }
        #expect(thrown == .headerTooLarge)
        #expect(fedAtError == RTSPDecoder.maxHeaderBytes)
        #expect(thrown?.isFramingLost == true && thrown?.isAnswerable == false)
        let header = bytes("OPTIONS * RTSP/1.0\r\nX: ") + Array(repeating: UInt8(ascii: "b"), count: 8170) + bytes("\r\n\r\n")
        #expect(decodeEveryWay(header).errors == [.headerTooLarge])
        let fits = bytes("OPTIONS * RTSP/1.0\r\nX: ") + Array(repeating: UInt8(ascii: "b"), count: 8192 - 27) + bytes("\r\n\r\n")
        #expect(fits.count == 8192)
        #expect(decodeEveryWay(fits).messages.count == 1)
    }

    @Test func badContentLengthKeepsTheCSeqToAnswer() {
        for value in ["abc", "-1", "1e3", "", "99999999999999999999", "12 3"] {
            let input = bytes("ANNOUNCE rtsp://cam/ RTSP/1.0\r\nCSeq: 11\r\nContent-Length: \(value)\r\n\r\n")
            let outcome = decodeEveryWay(input)
            #expect(outcome.errors == [.badContentLength(cseq: "11")], "Content-Length '\(value)'")
            #expect(outcome.errors.first?.isAnswerable == true && outcome.errors.first?.isFramingLost == true)
        }
        let conflicting = bytes("RTSP/1.0 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
        #expect(decodeEveryWay(conflicting).errors == [.badContentLength(cseq: nil)])
    }

    @Test func oversizedBodyIsRefusedBeforeItArrives() {
        var decoder = RTSPDecoder()
        decoder.append(bytes("ANNOUNCE rtsp://cam/ RTSP/1.0\r\nCSeq: 12\r\nContent-Length: 65537\r\n\r\n"))
        #expect(throws: RTSPDecodeError.bodyTooLarge(length: 65537, cseq: "12")) { try decoder.next() }
        let fits = bytes("RTSP/1.0 200 OK\r\nContent-Length: 65536\r\n\r\n") + Array(repeating: 0x41, count: 65536)
        #expect(decode([fits]).messages.count == 1)
    }

    @Test func malformedButFramedMessagesLeaveTheStreamUsable() {
        let cases: [(String, RTSPDecodeError)] = [
            ("OPTIONS rtsp://cam/\r\nCSeq: 13\r\n\r\n", .badRequestLine(cseq: "13")),
            ("OPTIONS rtsp://cam/ HTTP/1.1\r\nCSeq: 13\r\n\r\n", .badRequestLine(cseq: "13")),
            ("OPT(IONS rtsp://cam/ RTSP/1.0\r\nCSeq: 13\r\n\r\n", .badRequestLine(cseq: "13")),
            ("OPTIONS a b RTSP/1.0\r\nCSeq: 13\r\n\r\n", .badRequestLine(cseq: "13")),
            ("OPTIONS * RTSP/2.0\r\nCSeq: 13\r\n\r\n", .unsupportedVersion(cseq: "13")),
            ("RTSP/2.0 200 OK\r\nCSeq: 13\r\n\r\n", .unsupportedVersion(cseq: "13")),
            ("RTSP/1.0 2x0 OK\r\nCSeq: 13\r\n\r\n", .badStatusLine(cseq: "13")),
            ("RTSP/1.0\r\nCSeq: 13\r\n\r\n", .badStatusLine(cseq: "13")),
            ("RTSP/1.0 099 Low\r\nCSeq: 13\r\n\r\n", .badStatusLine(cseq: "13")),
            ("RTSP/1.0 2000 OK\r\nCSeq: 13\r\n\r\n", .badStatusLine(cseq: "13")),
            ("OPTIONS * RTSP/1.0\r\nCSeq: 13\r\nno colon here\r\n\r\n", .badHeaderLine(cseq: "13")),
            ("OPTIONS * RTSP/1.0\r\n folded first\r\nCSeq: 13\r\n\r\n", .badHeaderLine(cseq: "13")),
            ("OPTIONS * RTSP/1.0\r\nBad Name: x\r\nCSeq: 13\r\n\r\n", .badHeaderLine(cseq: "13")),
            ("OPTIONS * RTSP/1.0\r\n: empty\r\n\r\n", .badHeaderLine(cseq: nil)),
        ]
        let follower = bytes("OPTIONS * RTSP/1.0\r\nCSeq: 14\r\n\r\n")
        for (text, expected) in cases {
            // A body declared by the bad message is skipped too.
            let withBody = text.replacingFirstBlankLine(with: "\r\nContent-Length: 5\r\n\r\nOPTIO")
            for input in [bytes(text), bytes(withBody)] {
                let outcome = decodeEveryWay(input + follower)
                #expect(outcome.errors == [expected], "\(text)")
                #expect(outcome.errors.first?.isFramingLost == false)
                #expect(outcome.messages.count == 1, "the next request must still decode after \(text)")
                #expect(outcome.leftover == 0)
            }
        }
    }

    @Test func reasonsNeverQuotePeerBytes() {
        let errors: [RTSPDecodeError] = [
            .badMessageStart(0x41), .headerTooLarge, .badContentLength(cseq: "<x>"), .bodyTooLarge(length: 9, cseq: "<x>"),
            .badRequestLine(cseq: "<x>"), .badStatusLine(cseq: "<x>"), .badHeaderLine(cseq: "<x>"), .unsupportedVersion(cseq: "<x>"),
        ]
        for error in errors { #expect(!error.reason.contains("<x>") && !error.reason.isEmpty) }
    }
}

extension String {
    /// The request text with its header-ending blank line replaced, to add headers and a body.
    func replacingFirstBlankLine(with replacement: String) -> String {
        var bytes = Array(utf8)
        for index in 0..<(bytes.count - 3) where bytes[index..<index + 4].elementsEqual([13, 10, 13, 10]) {
            bytes.replaceSubrange(index..<index + 4, with: Array(replacement.utf8))
            return String(decoding: bytes, as: UTF8.self)
        }
        return self
    }
}
