import NIOCore

struct RTSPRequest {
    let method: String
    let uri: String
    let version: String
    let headers: [(name: String, value: String)]
    let body: ByteBuffer?

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var cseq: String? { header("CSeq") }
}

/// What arrives on an RTSP connection once the byte stream is framed.
enum RTSPInbound {
    case request(RTSPRequest)
    /// The header block was delimited but its content makes no sense; framing is
    /// intact, so the connection can answer 400 and carry on.
    case malformed(cseq: String?, reason: String)
    /// Client-to-server interleaved data (RTCP receiver reports on the odd
    /// channel). Already consumed; only reported for bookkeeping.
    case interleaved(channel: UInt8, length: Int)
}

enum RTSPFramingError: Error, CustomStringConvertible {
    case headerTooLarge
    case bodyTooLarge(Int, cseq: String?)
    case badContentLength(String, cseq: String?)

    /// Body-length problems still leave a parseable request to answer (with 400)
    /// before the connection is dropped; an endless header has nothing to answer.
    var answerableCSeq: String?? {
        switch self {
        case .headerTooLarge: return nil
        case .bodyTooLarge(_, let cseq), .badContentLength(_, let cseq): return .some(cseq)
        }
    }

    var description: String {
        switch self {
        case .headerTooLarge: return "request line/headers exceed \(RTSPFrameDecoder.maxHeaderBytes) bytes"
        case .bodyTooLarge(let n, _): return "request body of \(n) bytes exceeds \(RTSPFrameDecoder.maxBodyBytes)"
        case .badContentLength(let v, _): return "unparseable Content-Length \(v)"
        }
    }
}

/// Frames RTSP requests and interleaved binary data (RFC 2326 §10.12) from one
/// TCP byte stream. Errors are only thrown when framing itself is lost or
/// abusive; the connection is then closed.
struct RTSPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = RTSPInbound

    static let maxHeaderBytes = 8 * 1024
    static let maxBodyBytes = 64 * 1024

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        // Blank lines between messages are tolerated (RFC 2326 §15.1 / RFC 2616 §4.1).
        while let b = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), b == 0x0D || b == 0x0A {
            buffer.moveReaderIndex(forwardBy: 1)
        }
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }

        if first == UInt8(ascii: "$") {
            guard buffer.readableBytes >= 4,
                let channel = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self),
                let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)
            else { return .needMoreData }
            guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 4 + Int(length))
            context.fireChannelRead(Self.wrapInboundOut(.interleaved(channel: channel, length: Int(length))))
            return .continue
        }

        guard let headerEnd = Self.findHeaderEnd(buffer.readableBytesView) else {
            if buffer.readableBytes > Self.maxHeaderBytes { throw RTSPFramingError.headerTooLarge }
            return .needMoreData
        }
        guard headerEnd <= Self.maxHeaderBytes else { throw RTSPFramingError.headerTooLarge }

        let headerBytes = Array(buffer.readableBytesView.prefix(headerEnd))
        let parsed = Self.parseHead(headerBytes)

        // Body framing must be honoured even for requests we will reject,
        // otherwise the body would be misread as the next request.
        var bodyLength = 0
        if case .request(let req) = parsed, let cl = req.header("Content-Length") {
            guard let n = Int(cl.trimmingASCIISpaces), n >= 0 else {
                throw RTSPFramingError.badContentLength(cl, cseq: req.cseq)
            }
            guard n <= Self.maxBodyBytes else { throw RTSPFramingError.bodyTooLarge(n, cseq: req.cseq) }
            bodyLength = n
        }
        guard buffer.readableBytes >= headerEnd + bodyLength else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: headerEnd)
        let body = bodyLength > 0 ? buffer.readSlice(length: bodyLength) : nil

        switch parsed {
        case .request(let req):
            let full = RTSPRequest(method: req.method, uri: req.uri, version: req.version, headers: req.headers, body: body)
            context.fireChannelRead(Self.wrapInboundOut(.request(full)))
        default:
            context.fireChannelRead(Self.wrapInboundOut(parsed))
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A partial request at EOF cannot be answered; drop it quietly.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// Offset just past the empty line that ends the header block; accepts
    /// bare-LF line endings as well as CRLF.
    static func findHeaderEnd(_ bytes: ByteBufferView) -> Int? {
        var i = bytes.startIndex
        let end = bytes.endIndex
        let limit = min(end, bytes.startIndex + maxHeaderBytes + 4)
        while i < limit {
            if bytes[i] == 0x0A {
                let n1 = i + 1
                if n1 < end && bytes[n1] == 0x0A { return n1 + 1 - bytes.startIndex }
                if n1 + 1 < end && bytes[n1] == 0x0D && bytes[n1 + 1] == 0x0A { return n1 + 2 - bytes.startIndex }
            }
            i += 1
        }
        return nil
    }

    static func parseHead(_ bytes: [UInt8]) -> RTSPInbound {
        // Split on LF bytes, not on String characters: Swift treats "\r\n" as a
        // single grapheme, which would make Character-based splitting miss it.
        var lines: [String] = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            var l = line[...]
            if l.last == 0x0D { l = l.dropLast() }
            return String(decoding: l, as: UTF8.self)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { return .malformed(cseq: nil, reason: "empty request") }

        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            if let f = line.utf8.first, f == UInt8(ascii: " ") || f == UInt8(ascii: "\t") {
                // Obsolete line folding: continuation of the previous header.
                guard !headers.isEmpty else { return .malformed(cseq: nil, reason: "continuation line without header") }
                headers[headers.count - 1].value += " " + line.trimmingASCIISpaces
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                return .malformed(cseq: cseq(in: headers), reason: "header line without colon")
            }
            let name = String(line[..<colon]).trimmingASCIISpaces
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                return .malformed(cseq: cseq(in: headers), reason: "invalid header name")
            }
            headers.append((name, String(line[line.index(after: colon)...]).trimmingASCIISpaces))
        }

        let parts = lines[0].split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3 else {
            return .malformed(cseq: cseq(in: headers), reason: "request line must be 'METHOD URI RTSP/1.0'")
        }
        let method = String(parts[0])
        guard method.utf8.allSatisfy(isTokenByte) else {
            return .malformed(cseq: cseq(in: headers), reason: "invalid method token")
        }
        let version = String(parts[2])
        guard version.hasPrefix("RTSP/") else {
            return .malformed(cseq: cseq(in: headers), reason: "not an RTSP request (version \(version.prefix(16)))")
        }
        return .request(RTSPRequest(method: method, uri: String(parts[1]), version: version, headers: headers, body: nil))
    }

    private static func cseq(in headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name.lowercased() == "cseq" }?.value
    }

    private static func isTokenByte(_ b: UInt8) -> Bool {
        // RFC 2616 token: visible ASCII minus separators.
        guard b > 0x20 && b < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?={}".utf8.contains(b)
    }
}

extension StringProtocol {
    var trimmingASCIISpaces: String {
        let u = Array(utf8)
        var s = 0
        var e = u.count
        while s < e && (u[s] == 0x20 || u[s] == 0x09) { s += 1 }
        while e > s && (u[e - 1] == 0x20 || u[e - 1] == 0x09) { e -= 1 }
        return String(decoding: u[s..<e], as: UTF8.self)
    }
}

/// Builds an RTSP response with the headers every reply needs.
struct RTSPResponse {
    var status: Int
    var reason: String
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    mutating func add(_ name: String, _ value: String) { headers.append((name, value)) }

    func encode(cseq: String?, into out: inout ByteBuffer) {
        out.writeString("RTSP/1.0 \(status) \(reason)\r\n")
        // RFC 2326 §12.17: the reply must echo CSeq; sanitize it so a hostile
        // value cannot inject extra header lines.
        if let cseq, !cseq.isEmpty, cseq.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) {
            out.writeString("CSeq: \(cseq)\r\n")
        }
        out.writeString("Server: camagent-simcam\r\n")
        for (name, value) in headers { out.writeString("\(name): \(value)\r\n") }
        if !body.isEmpty || status >= 400 {
            out.writeString("Content-Length: \(body.count)\r\n")
        }
        out.writeString("\r\n")
        out.writeBytes(body)
    }
}
