/// Incremental RTSP decoder for either end of a connection: requests, responses
/// and `$`-interleaved frames (RFC 2326 §10.12) come out of one byte stream.
///
/// Bytes go in with `append`, one message comes out of each `next()`; it can be
/// fed one byte at a time with the same result. Memory is bounded: a header
/// block may be at most `maxHeaderBytes` (checked as bytes arrive), a body at
/// most `maxBodyBytes` (checked from Content-Length before the body is
/// buffered), and an interleaved frame is at most 65535 bytes by its 16-bit
/// length. Errors say whether framing survived (`RTSPDecodeError.isFramingLost`):
/// if it did, the bad message was consumed and `next()` goes on with the next one.
public struct RTSPDecoder: Sendable {
    public static let maxHeaderBytes = 8 * 1024
    public static let maxBodyBytes = 64 * 1024

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the end of the header block resumes, so bytes fed
    /// one at a time are not rescanned from the start each time.
    private var scanIndex = 0
    /// A header block already parsed whose body has not fully arrived.
    private var pending: PendingMessage?

    public init() {}

    public mutating func append(_ bytes: [UInt8]) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ byte: UInt8) {
        compactIfWorthwhile()
        buffer.append(byte)
    }

    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned as messages.
    public var bufferedCount: Int { buffer.count - readIndex }

    /// Hands back and forgets whatever is buffered (a parsed-but-incomplete
    /// message included, as raw bytes).
    public mutating func takeRemainingBytes() -> [UInt8] {
        let rest = Array(buffer[readIndex...])
        buffer.removeAll()
        readIndex = 0
        scanIndex = 0
        pending = nil
        return rest
    }

    public mutating func next() throws(RTSPDecodeError) -> RTSPMessage? {
        if let pending {
            return try finish(pending)
        }
        // Blank lines between messages are tolerated (RFC 2326 §15.1, RFC 2616 §4.1).
        while readIndex < buffer.count && (buffer[readIndex] == 0x0D || buffer[readIndex] == 0x0A) {
            readIndex += 1
        }
        guard readIndex < buffer.count else {
            resetIfEmpty()
            return nil
        }
        let first = buffer[readIndex]
        if first == 0x24 {
            return nextInterleavedFrame()
        }
        guard isTokenByte(first) else { throw .badMessageStart(first) }

        guard let headerEnd = findHeaderEnd() else {
            if buffer.count - readIndex >= Self.maxHeaderBytes { throw .headerTooLarge }
            return nil
        }
        guard headerEnd - readIndex <= Self.maxHeaderBytes else { throw .headerTooLarge }
        let head = Self.parseHead(buffer[readIndex..<headerEnd])
        let bodyLength = try Self.bodyLength(head)
        let message = PendingMessage(head: head, headerEnd: headerEnd, bodyLength: bodyLength)
        pending = message
        return try finish(message)
    }

    // MARK: framing

    private struct PendingMessage: Sendable {
        var head: Head
        var headerEnd: Int
        var bodyLength: Int
    }

    private enum Head: Sendable {
        case request(method: String, uri: String, headers: RTSPHeaders)
        case response(status: Int, reason: String, headers: RTSPHeaders)
        case malformed(RTSPDecodeError, headers: RTSPHeaders)

        var headers: RTSPHeaders {
            switch self {
            case .request(_, _, let headers), .response(_, _, let headers), .malformed(_, let headers): return headers
            }
        }
    }

    private mutating func finish(_ message: PendingMessage) throws(RTSPDecodeError) -> RTSPMessage? {
        let bodyStart = message.headerEnd
        guard buffer.count - bodyStart >= message.bodyLength else { return nil }
        let body = Array(buffer[bodyStart..<bodyStart + message.bodyLength])
        readIndex = bodyStart + message.bodyLength
        scanIndex = readIndex
        pending = nil
        resetIfEmpty()
        switch message.head {
        case .request(let method, let uri, let headers):
            return .request(RTSPRequest(method: method, uri: uri, headers: headers, body: body))
        case .response(let status, let reason, let headers):
            return .response(RTSPResponse(status: status, reason: reason, headers: headers, body: body))
        case .malformed(let error, _):
            throw error
        }
    }

    private mutating func nextInterleavedFrame() -> RTSPMessage? {
        guard buffer.count - readIndex >= 4 else { return nil }
        let channel = buffer[readIndex + 1]
        let length = Int(buffer[readIndex + 2]) << 8 | Int(buffer[readIndex + 3])
        let start = readIndex + 4
        guard buffer.count - start >= length else { return nil }
        let payload = Array(buffer[start..<start + length])
        readIndex = start + length
        scanIndex = readIndex
        resetIfEmpty()
        return .interleaved(RTSPInterleavedFrame(channel: channel, payload: payload))
    }

    /// Index just past the empty line that ends the header block; bare-LF line
    /// endings are accepted as well as CRLF. Never looks past `maxHeaderBytes`,
    /// so the verdict does not depend on how the bytes were split.
    private mutating func findHeaderEnd() -> Int? {
        let limit = min(buffer.count, readIndex + Self.maxHeaderBytes)
        var index = max(scanIndex, readIndex)
        while index < limit {
            if buffer[index] == 0x0A {
                guard index + 1 < buffer.count else { break }
                if buffer[index + 1] == 0x0A { return index + 2 }
                if buffer[index + 1] == 0x0D {
                    guard index + 2 < buffer.count else { break }
                    if buffer[index + 2] == 0x0A { return index + 3 }
                }
            }
            index += 1
        }
        scanIndex = index
        return nil
    }

    /// Body framing is honoured even for messages that will be rejected, or the
    /// body would be misread as the next message.
    private static func bodyLength(_ head: Head) throws(RTSPDecodeError) -> Int {
        let headers = head.headers
        var length: Int?
        for field in headers.fields where asciiCaseInsensitiveEqual(field.name, "Content-Length") {
            guard let value = parseDecimal(trimmedASCIISpaces(Array(field.value.utf8)[...])),
                length == nil || length == value
            else { throw .badContentLength(cseq: headers["CSeq"]) }
            length = value
        }
        let bodyLength = length ?? 0
        guard bodyLength <= maxBodyBytes else { throw .bodyTooLarge(length: bodyLength, cseq: headers["CSeq"]) }
        return bodyLength
    }

    // MARK: head parsing

    private static func parseHead(_ block: ArraySlice<UInt8>) -> Head {
        // Split on LF bytes: Swift treats "\r\n" as one Character, so splitting
        // a String would miss it.
        var lines: [ArraySlice<UInt8>] = block.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }

        // Headers are read leniently first so that a bad line elsewhere still
        // leaves CSeq (to echo in the 400) and Content-Length (to skip the body).
        var headers = RTSPHeaders()
        var badHeader = false
        for line in lines.dropFirst() {
            if let first = line.first, isASCIISpace(first) {
                // Obsolete line folding: continuation of the previous header.
                guard !headers.fields.isEmpty else {
                    badHeader = true
                    continue
                }
                // Joined with one space, and only between text, so the value
                // stays trimmed like any other.
                let continuation = trimmedASCIISpaces(line)
                let last = headers.fields.count - 1
                if !continuation.isEmpty {
                    headers.fields[last].value += headers.fields[last].value.utf8.isEmpty ? string(continuation) : " " + string(continuation)
                }
                continue
            }
            guard let colon = line.firstIndex(of: 0x3A) else {
                badHeader = true
                continue
            }
            let name = trimmedASCIISpaces(line[..<colon])
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                badHeader = true
                continue
            }
            headers.fields.append((name: string(name), value: string(trimmedASCIISpaces(line[(colon + 1)...]))))
        }
        let cseq = headers["CSeq"]
        guard let startLine = lines.first else { return .malformed(.badRequestLine(cseq: cseq), headers: headers) }

        let head: Head
        if bytesHavePrefixIgnoringASCIICase(startLine, "RTSP/") {
            head = parseStatusLine(startLine, headers: headers)
        } else {
            head = parseRequestLine(startLine, headers: headers)
        }
        if badHeader, case .malformed = head { return head }
        return badHeader ? .malformed(.badHeaderLine(cseq: cseq), headers: headers) : head
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>, headers: RTSPHeaders) -> Head {
        let cseq = headers["CSeq"]
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0].allSatisfy(isTokenByte), parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F }),
            parts[2].starts(with: "RTSP/".utf8)
        else { return .malformed(.badRequestLine(cseq: cseq), headers: headers) }
        guard bytesEqualIgnoringASCIICase(parts[2], "RTSP/1.0") else {
            return .malformed(.unsupportedVersion(cseq: cseq), headers: headers)
        }
        return .request(method: string(parts[0]), uri: string(parts[1]), headers: headers)
    }

    private static func parseStatusLine(_ line: ArraySlice<UInt8>, headers: RTSPHeaders) -> Head {
        let cseq = headers["CSeq"]
        guard let versionEnd = line.firstIndex(of: 0x20) else {
            return .malformed(.badStatusLine(cseq: cseq), headers: headers)
        }
        var rest = line[versionEnd...]
        while let first = rest.first, first == 0x20 { rest = rest.dropFirst() }
        let code = rest.prefix(3)
        let reason = rest.dropFirst(3)
        guard code.count == 3, let status = parseDecimal(code), status >= 100,
            reason.isEmpty || reason.first == 0x20
        else { return .malformed(.badStatusLine(cseq: cseq), headers: headers) }
        guard bytesEqualIgnoringASCIICase(line[..<versionEnd], "RTSP/1.0") else {
            return .malformed(.unsupportedVersion(cseq: cseq), headers: headers)
        }
        return .response(status: status, reason: string(trimmedASCIISpaces(reason)), headers: headers)
    }

    // MARK: buffer housekeeping

    private mutating func resetIfEmpty() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
            scanIndex = 0
        }
    }

    private mutating func compactIfWorthwhile() {
        if readIndex > 0 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            scanIndex = max(0, scanIndex - readIndex)
            if var message = pending {
                message.headerEnd -= readIndex
                pending = message
            }
            readIndex = 0
        }
    }
}
