// Fuzz target: CamMedia's RTSPDecoder and the parsers behind it (SDP bodies,
// Transport, Session and WWW-Authenticate values), the code the streampoint's
// ingest client runs on a camera's bytes and its RTSP server on a viewer's.
// Beyond "no crash" it checks that
// - the decoder gives the same messages and errors however the bytes are split;
// - it never holds more than a header block plus the largest body;
// - an interleaved frame re-encodes to exactly the bytes it came from, and a
//   request or response's encoding is a fixed point (encode, decode, encode);
// - an SDP that parses, written back out, parses to the same description.
import CamMedia

enum RTSPEvent: Equatable {
    case message(RTSPMessage)
    case error(RTSPDecodeError)
}

let bufferBound = RTSPDecoder.maxHeaderBytes + RTSPDecoder.maxBodyBytes

func decodeAll(_ pieces: [[UInt8]]) -> [RTSPEvent] {
    var decoder = RTSPDecoder()
    var events: [RTSPEvent] = []
    for piece in pieces {
        piece.withUnsafeBufferPointer { decoder.append($0) }
        while true {
            do {
                guard let message = try decoder.next() else { break }
                events.append(.message(message))
            } catch {
                events.append(.error(error))
                if error.isFramingLost { return events }
            }
        }
        require(decoder.bufferedCount <= bufferBound, "decoder holds \(decoder.bufferedCount) bytes without yielding")
    }
    return events
}

func checkEncodingIsFixedPoint(_ message: RTSPMessage) {
    let first = RTSPEncoder.encode(message)
    var decoder = RTSPDecoder()
    decoder.append(first)
    let again: RTSPMessage?
    do { again = try decoder.next() } catch {
        // Re-encoding may add bytes (": " after names), so a header block near
        // the bound can outgrow it; nothing else may fail.
        require(error == .headerTooLarge, "encoding of a decoded message does not decode: \(error.reason): \(hexDump(first))")
        return
    }
    guard let again else {
        require(false, "encoding of a decoded message is incomplete: \(hexDump(first))")
        return
    }
    require(decoder.bufferedCount == 0, "encoding of a decoded message has trailing bytes: \(hexDump(first))")
    require(RTSPEncoder.encode(again) == first, "encode(decode(encode(m))) != encode(m): \(hexDump(first))")
}

func checkSDP(_ body: [UInt8]) {
    guard let parsed = try? SessionDescription(parsing: String(decoding: body, as: UTF8.self)) else { return }
    _ = parsed.trackDescriptions
    for media in parsed.media { _ = media.bandwidthKbps; _ = media.formatParameters.integer("sizelength") }
    do {
        let again = try SessionDescription(parsing: parsed.text)
        require(again == parsed, "SDP written back out parses differently: \(hexDump(body))")
    } catch {
        require(false, "SDP written back out does not parse: \(hexDump(body))")
    }
}

func checkHeaderValues(_ headers: RTSPHeaders) {
    for field in headers.fields {
        _ = RTSPTransport.parseList(field.value).map(\.headerValue)
        _ = RTSPSessionHeader(field.value)?.headerValue
        if case .digest(let challenge)? = RTSPAuthChallenge(field.value) {
            _ = RTSPAuthorization.digest(challenge: challenge, username: "u", password: "p", method: "DESCRIBE",
                                         uri: "rtsp://cam/", cnonce: "c", nonceCount: 1, hash: { Array($0.prefix(16)) })
        }
    }
    _ = RTSPAuthChallenge.preferred(in: headers)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTSPDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let whole = decodeAll([input])
    require(decodeAll(singleBytes(input)) == whole, "one byte at a time decodes differently from all at once: \(hexDump(input))")
    require(decodeAll(pseudoRandomChunks(input)) == whole, "pseudo-random pieces decode differently from all at once: \(hexDump(input))")

    var offset = 0
    for event in whole {
        guard case .message(let message) = event else { continue }
        switch message {
        case .interleaved(let frame):
            let encoded = RTSPEncoder.encode(frame)
            // Skipped blank lines may precede it; the frame itself must be verbatim.
            guard let start = findFrame(encoded, in: input, from: offset) else {
                require(false, "interleaved frame is not in the input verbatim: \(hexDump(input))")
                continue
            }
            offset = start + encoded.count
        case .request(let request):
            checkEncodingIsFixedPoint(message)
            checkHeaderValues(request.headers)
            checkSDP(request.body)
        case .response(let response):
            checkEncodingIsFixedPoint(message)
            checkHeaderValues(response.headers)
            checkSDP(response.body)
        }
    }
    checkSDP(input)
    return 0
}

func findFrame(_ frame: [UInt8], in input: [UInt8], from offset: Int) -> Int? {
    guard frame.count <= input.count else { return nil }
    var start = offset
    while start + frame.count <= input.count {
        if input[start] == 0x24 && input[start..<start + frame.count].elementsEqual(frame) { return start }
        start += 1
    }
    return nil
}
