/// Serialises RTSP messages. Header fields go out in their order; a field whose
/// name is not a token or whose value holds a control byte is left out, so a
/// value that came from a peer (an echoed CSeq, say) cannot inject header lines.
/// Content-Length is always written last and always from the body: present when
/// there is a body or when the caller set one (as a request for `Content-Length: 0`).
public enum RTSPEncoder {
    public static func encode(_ request: RTSPRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + request.body.count)
        append(request.method, to: &out)
        out.append(0x20)
        append(request.uri, to: &out)
        append(" RTSP/1.0\r\n", to: &out)
        appendHeadersAndBody(request.headers, request.body, to: &out)
        return out
    }

    public static func encode(_ response: RTSPResponse) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + response.body.count)
        append("RTSP/1.0 ", to: &out)
        appendASCIIDecimal(response.status, to: &out)
        out.append(0x20)
        append(response.reason, to: &out)
        append("\r\n", to: &out)
        appendHeadersAndBody(response.headers, response.body, to: &out)
        return out
    }

    /// The payload must fit the 16-bit length (an RTP packet always does).
    public static func encode(_ frame: RTSPInterleavedFrame) -> [UInt8] {
        precondition(frame.payload.count <= 0xFFFF, "interleaved payload exceeds 65535 bytes")
        var out: [UInt8] = []
        out.reserveCapacity(4 + frame.payload.count)
        appendInterleavedHeader(channel: frame.channel, length: frame.payload.count, to: &out)
        out.append(contentsOf: frame.payload)
        return out
    }

    /// The 4-byte `$` header alone, for writers that append the payload from
    /// elsewhere without copying it into a frame first.
    public static func appendInterleavedHeader(channel: UInt8, length: Int, to out: inout [UInt8]) {
        precondition(length >= 0 && length <= 0xFFFF, "interleaved payload exceeds 65535 bytes")
        out.append(0x24)
        out.append(channel)
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
    }

    public static func encode(_ message: RTSPMessage) -> [UInt8] {
        switch message {
        case .request(let request): return encode(request)
        case .response(let response): return encode(response)
        case .interleaved(let frame): return encode(frame)
        }
    }

    /// Whether a header value can be written as is: no control bytes (tab allowed).
    public static func isSafeHeaderValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }
    }

    private static func appendHeadersAndBody(_ headers: RTSPHeaders, _ body: [UInt8], to out: inout [UInt8]) {
        var contentLengthRequested = false
        for field in headers.fields {
            if asciiCaseInsensitiveEqual(field.name, "Content-Length") {
                contentLengthRequested = true
                continue
            }
            guard !field.name.utf8.isEmpty, field.name.utf8.allSatisfy(isTokenByte), isSafeHeaderValue(field.value)
            else { continue }
            append(field.name, to: &out)
            append(": ", to: &out)
            append(field.value, to: &out)
            append("\r\n", to: &out)
        }
        if !body.isEmpty || contentLengthRequested {
            append("Content-Length: ", to: &out)
            appendASCIIDecimal(body.count, to: &out)
            append("\r\n", to: &out)
        }
        append("\r\n", to: &out)
        out.append(contentsOf: body)
    }
}
