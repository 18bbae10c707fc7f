/// The HTTP/1.1 exchange that opens every camagent link: the agent sends
/// `GET /camagent/v1` with `Connection: Upgrade`, the server answers `101`, and
/// the same socket then carries frames. Plain HTTP framing lets the links pass
/// proxies and load balancers that only speak HTTP.
public enum HTTPUpgrade {
    public static func request(host: String) -> [UInt8] {
        Array(("GET \(ProtocolConstants.upgradePath) HTTP/1.1\r\n"
            + "Host: \(host)\r\n"
            + "Connection: Upgrade\r\n"
            + "Upgrade: \(ProtocolConstants.upgradeToken)\r\n"
            + "\r\n").utf8)
    }

    public static func switchingResponse() -> [UInt8] {
        Array(("HTTP/1.1 101 Switching Protocols\r\n"
            + "Connection: Upgrade\r\n"
            + "Upgrade: \(ProtocolConstants.upgradeToken)\r\n"
            + "\r\n").utf8)
    }

    /// A plain HTTP error for clients that did not ask for the upgrade.
    public static func errorResponse(status: Int, reason: String) -> [UInt8] {
        let body = "\(reason)\n"
        return Array(("HTTP/1.1 \(status) \(reason)\r\n"
            + "Content-Type: text/plain\r\n"
            + "Content-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n"
            + "\r\n" + body).utf8)
    }
}

/// Collects bytes up to the blank line ending an HTTP head, bounded in size.
/// Whatever follows the head (pipelined frames) is kept for the frame decoder.
public struct HTTPHeadAccumulator: Sendable {
    private var head: [UInt8] = []
    private var matched = 0  // how much of "\r\n\r\n" the tail matches

    public init() {}

    /// Feeds bytes; returns the head and the bytes after it once the head is complete.
    public mutating func feed(_ bytes: [UInt8]) throws(ProtocolError) -> (head: [UInt8], rest: [UInt8])? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        for index in 0..<bytes.count {
            let byte = bytes[index]
            head.append(byte)
            guard head.count <= ProtocolConstants.maxUpgradeHeaderBytes else {
                throw .upgradeHeadersTooLarge
            }
            if byte == terminator[matched] {
                matched += 1
            } else {
                matched = byte == terminator[0] ? 1 : 0
            }
            if matched == 4 {
                let complete = head
                head = []
                matched = 0
                return (complete, Array(bytes[(index + 1)...]))
            }
        }
        return nil
    }
}

/// What the server needs from the agent's upgrade request.
public struct UpgradeRequest: Equatable, Sendable {
    public var path: String
    public var host: String?
}

/// Parses a complete HTTP head (request line + headers) sent by an agent.
public func parseUpgradeRequest(_ head: [UInt8]) throws(ProtocolError) -> UpgradeRequest {
    let lines = try httpLines(head)
    guard let requestLine = lines.first else { throw .malformedUpgrade("empty request") }
    let parts = splitText(requestLine, at: 0x20)
    guard parts.count == 3 else { throw .malformedUpgrade("request line is not METHOD PATH VERSION") }
    guard parts[0] == "GET" else { throw .malformedUpgrade("method is not GET") }
    guard parts[2] == "HTTP/1.1" else { throw .malformedUpgrade("version is not HTTP/1.1") }
    // The path is logged by the servers; a request target never holds whitespace.
    for byte in parts[1].utf8 where byte == 9 { throw .malformedUpgrade("tab in request target") }
    var host: String?
    var connectionUpgrade = false
    var upgradeToken: String?
    for line in lines.dropFirst() {
        let (name, value) = try splitHeader(line)
        switch name {
        case "host": host = value
        case "connection":
            for token in splitText(value, at: 0x2C) where asciiLowercased(trimmed(token)) == "upgrade" {
                connectionUpgrade = true
            }
        case "upgrade": upgradeToken = value
        default: break
        }
    }
    guard connectionUpgrade else { throw .malformedUpgrade("missing Connection: Upgrade") }
    guard upgradeToken == ProtocolConstants.upgradeToken else {
        throw .malformedUpgrade("Upgrade header does not name camagent/1")
    }
    return UpgradeRequest(path: String(parts[1]), host: host)
}

/// Checks the server's answer to the upgrade. Only `101` with the right Upgrade header passes.
public func parseUpgradeResponse(_ head: [UInt8]) throws(ProtocolError) {
    let lines = try httpLines(head)
    guard let statusLine = lines.first else { throw .malformedUpgrade("empty response") }
    let parts = splitText(statusLine, at: 0x20, maxSplits: 2)
    guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0" else {
        throw .malformedUpgrade("status line is not HTTP")
    }
    // Digits only: Int() would also take "+01" or "-01" (and links a generic
    // parser's specialisation). Wrapping arithmetic: a long digit run from the
    // peer must not trap; the value counts only at exactly three digits.
    var digits = 0
    var status = 0
    for byte in parts[1].utf8 where byte >= 0x30 && byte <= 0x39 {
        digits += 1
        status = status &* 10 &+ Int(byte &- 0x30)
    }
    guard digits == 3, parts[1].utf8.count == 3 else {
        throw .malformedUpgrade("status code is not three digits")
    }
    // HTTP status classes are 1xx to 5xx; "050" is not a status to report.
    guard (100...599).contains(status) else { throw .malformedUpgrade("status code is not 100 to 599") }
    guard status == 101 else { throw .upgradeRejected(status: status) }
    var upgradeToken: String?
    for line in lines.dropFirst() {
        let (name, value) = try splitHeader(line)
        if name == "upgrade" { upgradeToken = value }
    }
    guard upgradeToken == ProtocolConstants.upgradeToken else {
        throw .malformedUpgrade("101 response does not upgrade to camagent/1")
    }
}

private func httpLines(_ head: [UInt8]) throws(ProtocolError) -> [String] {
    // HTTP heads are ASCII; anything else is refused rather than guessed at.
    for byte in head where byte >= 0x7F || (byte < 0x20 && byte != 13 && byte != 10 && byte != 9) {
        throw .malformedUpgrade("non-ASCII or control byte in HTTP head")
    }
    // A CR or LF outside a CRLF pair would stay inside a header value (and from
    // there reach logs) here, while other HTTP parsers end the line at it.
    for index in 0..<head.count where head[index] == 13 || head[index] == 10 {
        let paired = head[index] == 13
            ? index + 1 < head.count && head[index + 1] == 10
            : index > 0 && head[index - 1] == 13
        guard paired else { throw .malformedUpgrade("bare CR or LF in HTTP head") }
    }
    guard let text = decodeUTF8(head) else { throw .malformedUpgrade("undecodable HTTP head") }
    // Every CR is paired with an LF (checked above): cut at LF, drop the CR.
    var lines: [String] = []
    for line in splitText(text, at: 10, omittingEmpty: true) {
        var bytes = Array(line.utf8)
        if bytes.last == 13 { bytes.removeLast() }
        if !bytes.isEmpty { lines.append(String(decoding: bytes, as: UTF8.self)) }
    }
    return lines
}

private func splitHeader(_ line: String) throws(ProtocolError) -> (String, String) {
    // Cut on the bytes: String.firstIndex(of:) and contains work on Characters (grapheme breaking, kilobytes on armv5).
    let halves = splitText(line, at: 0x3A, maxSplits: 1)
    guard halves.count == 2 else { throw .malformedUpgrade("header line without colon") }
    let name = asciiLowercased(halves[0])
    guard !name.isEmpty else { throw .malformedUpgrade("bad header name") }
    for byte in name.utf8 where byte == 0x20 { throw .malformedUpgrade("bad header name") }
    return (name, trimmed(halves[1]))
}

func asciiLowercased(_ text: String) -> String {
    var utf8: [UInt8] = []
    for byte in text.utf8 { utf8.append(byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte) }
    return decodeUTF8(utf8) ?? text
}
