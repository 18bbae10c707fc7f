import CamNIO
import Foundation

/// The viewer-token check of a passthrough port (an HTTP or RTSP target), on
/// the viewer's first request head, before any tunnel is opened. Pure: bytes
/// in, a decision out; PassthroughGateHandler does the I/O.
///
/// The token comes from the request target's `token=` query parameter, else
/// an `Authorization: Bearer` header, else (HTTP) the cookie this gate sets on
/// the first response of an admitted connection, so that the pages' later
/// requests on new connections get in too. What is forwarded to the camera
/// has the token taken out: every `token=` parameter, the Bearer header that
/// carried it, and this gate's cookie.
struct PassthroughGate {
    /// Largest first request head read before deciding (browsers send 1–2 KiB).
    static let maxHeadBytes = 16 * 1024
    /// Seconds a viewer has to send that head (slowloris).
    static let headTimeoutSeconds: Int64 = 10

    let proto: PassthroughProtocol
    let agentID: String
    let target: String

    /// One cookie per camera target: browsers send a host's cookies to every
    /// port on it, so the name, not the path, keeps targets apart.
    var cookieName: String { Self.viewerCookiePrefix + "\(agentID).\(target)" }
    /// Connections reading their first request, in all and from one address.
    static let maxPendingConnections = 256
    static let maxPendingConnectionsPerAddress = 32
    static let viewerCookiePrefix = "camagent_viewer."

    enum Scan: Equatable {
        case needMore
        case tooLarge
        /// The head is the first `length` bytes (through the empty line).
        case complete(length: Int)
    }

    static func scan(_ bytes: [UInt8]) -> Scan {
        var index = 0
        while index < bytes.count, index < maxHeadBytes {
            if bytes[index] == 0x0A {
                // "\n\n" or "\n\r\n": the empty line that ends the head.
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return .complete(length: index + 2) }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return .complete(length: index + 3) }
            }
            index += 1
        }
        return bytes.count >= maxHeadBytes ? .tooLarge : .needMore
    }

    enum Decision: Equatable {
        /// Forward `head` (token removed) and, for HTTP, add `setCookie` (a whole
        /// header line with CRLF) to the camera's first response.
        case admit(head: [UInt8], setCookie: [UInt8]?)
        /// Answer `response` and close. `reason` is for the log and never holds peer text.
        case refuse(response: [UInt8], reason: String, tokenRefused: Bool)
    }

    /// `verify`: the streampoint's check of a token (nil: none presented) for this agent and target.
    func decide(head: [UInt8], now: UInt64,
                verify: (String?) -> Result<ViewerToken, ViewerToken.Refusal>) -> Decision {
        var lines = Self.lines(head)
        guard let requestLine = lines.first.map(Self.trimmed) else { return badRequest(nil) }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        let version = proto == .rtsp ? "RTSP/" : "HTTP/"
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[2].starts(with: Array(version.utf8)) else {
            return badRequest(nil)
        }
        let cseq = proto == .rtsp ? Self.cseq(lines) : nil

        // The request target: its token= parameters come out whatever they hold.
        let requestTarget = Array(parts[1])
        var pathPart = requestTarget[...]
        var queryToken: String?
        var keptParameters: [ArraySlice<UInt8>] = []
        if let mark = requestTarget.firstIndex(of: 0x3F) {
            pathPart = requestTarget[..<mark]
            for parameter in requestTarget[(mark + 1)...].split(separator: 0x26, omittingEmptySubsequences: false) {
                if parameter.starts(with: Array("token=".utf8)) {
                    if queryToken == nil { queryToken = String(decoding: parameter.dropFirst(6), as: UTF8.self) }
                } else {
                    keptParameters.append(parameter)
                }
            }
        }
        var newTarget = Array(pathPart)
        if !keptParameters.isEmpty {
            newTarget.append(0x3F)
            for (index, parameter) in keptParameters.enumerated() {
                if index > 0 { newTarget.append(0x26) }
                newTarget += parameter
            }
        }

        var bearerToken: String?
        var cookieToken: String?
        for index in lines.indices.dropFirst() {
            let line = Self.trimmed(lines[index])
            guard let colon = line.firstIndex(of: 0x3A) else { continue }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = Self.trimmedSpaces(line[(colon + 1)...])
            if name == "authorization",
               let presented = ViewerToken.presented(query: nil, authorization: String(decoding: value, as: UTF8.self)) {
                // Every bearer line is ours, whichever token wins: none goes on to the camera.
                if bearerToken == nil { bearerToken = presented }
                lines[index] = []
            } else if name == "cookie" {
                let (kept, found, removed) = removeCookie(from: value)
                if cookieToken == nil { cookieToken = found }
                if removed {
                    lines[index] = kept.isEmpty ? [] : Array("Cookie: ".utf8) + kept + Self.lineEnd(lines[index])
                }
            }
        }

        // The query wins (a link carries it), then the header, then the cookie.
        var presented = cookieToken
        var fromCookie = cookieToken != nil
        if let queryToken, !queryToken.isEmpty {
            presented = queryToken
            fromCookie = false
        } else if let bearerToken, !bearerToken.isEmpty {
            presented = bearerToken
            fromCookie = false
        }
        let token: ViewerToken
        switch verify(presented) {
        case .success(let verified): token = verified
        case .failure(let refusal):
            return .refuse(response: Self.response(proto, 401, "Unauthorized", reason: refusal.description, cseq: cseq,
                                                   extra: ["WWW-Authenticate: Bearer realm=\"camagent viewer\""]),
                           reason: refusal.description, tokenRefused: true)
        }
        var forwarded = Array(parts[0]) + [0x20] + newTarget + [0x20] + Array(parts[2]) + Self.lineEnd(lines[0])
        for line in lines.dropFirst() { forwarded += line }

        var setCookie: [UInt8]?
        if proto == .http, !fromCookie, token.expiresAt > now {
            setCookie = Array("Set-Cookie: \(cookieName)=\(presented ?? ""); Max-Age=\(token.expiresAt - now); Path=/; HttpOnly; SameSite=Strict\r\n".utf8)
        }
        return .admit(head: forwarded, setCookie: setCookie)
    }

    /// Takes every viewer cookie out of a Cookie header value (browsers send a
    /// host's cookies to all its ports, so other cameras' tokens arrive here
    /// too, and no camera may see one); returns what is left and this gate's value.
    private func removeCookie(from value: ArraySlice<UInt8>) -> (kept: [UInt8], found: String?, removed: Bool) {
        var kept: [UInt8] = []
        var found: String?
        var removed = false
        for pair in value.split(separator: 0x3B, omittingEmptySubsequences: true) {
            let pair = Self.trimmedSpaces(pair)
            guard !pair.isEmpty else { continue }
            let name = pair.firstIndex(of: 0x3D).map { pair[..<$0] } ?? pair
            if Array(name) == Array(cookieName.utf8) {
                removed = true
                if found == nil, let equals = pair.firstIndex(of: 0x3D) {
                    found = String(decoding: pair[(equals + 1)...], as: UTF8.self)
                }
                continue
            }
            if name.starts(with: Self.viewerCookiePrefix.utf8) {
                removed = true
                continue
            }
            if !kept.isEmpty { kept += [0x3B, 0x20] }
            kept += pair
        }
        return (kept, found, removed)
    }

    func badRequest(_ cseq: String?) -> Decision {
        let reason = proto == .rtsp ? "the first bytes are not an RTSP request" : "the first bytes are not an HTTP request"
        return .refuse(response: Self.response(proto, 400, "Bad Request", reason: reason, cseq: cseq), reason: reason, tokenRefused: false)
    }

    func tooLarge() -> Decision {
        let reason = "request head larger than \(Self.maxHeadBytes) bytes"
        let status = proto == .rtsp ? (400, "Bad Request") : (431, "Request Header Fields Too Large")
        return .refuse(response: Self.response(proto, status.0, status.1, reason: reason, cseq: nil), reason: reason, tokenRefused: false)
    }

    func timedOut() -> Decision {
        let reason = "no complete request head within \(Self.headTimeoutSeconds) s"
        let status = proto == .rtsp ? (408, "Request Time-out") : (408, "Request Timeout")
        return .refuse(response: Self.response(proto, status.0, status.1, reason: reason, cseq: nil), reason: reason, tokenRefused: false)
    }

    /// A complete answer that closes the connection: JSON for HTTP, text for RTSP (with the request's CSeq).
    static func response(_ proto: PassthroughProtocol, _ status: Int, _ phrase: String, reason: String, cseq: String?,
                         extra: [String] = []) -> [UInt8] {
        var lines: [String]
        let body: String
        if proto == .rtsp {
            body = reason + "\n"
            lines = ["RTSP/1.0 \(status) \(phrase)"]
            if let cseq { lines.append("CSeq: \(cseq)") }
            lines += ["Server: camagent-streampoint", "Content-Type: text/plain"]
        } else {
            let escaped = reason.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            body = "{\"error\":\"\(escaped)\"}\n"
            lines = ["HTTP/1.1 \(status) \(phrase)", "Content-Type: application/json", "Cache-Control: no-store", "Connection: close"]
        }
        lines += extra
        lines.append("Content-Length: \(body.utf8.count)")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    /// The head's lines, each with its own line end (the last is the empty line).
    private static func lines(_ head: [UInt8]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var start = 0
        for index in head.indices where head[index] == 0x0A {
            result.append(Array(head[start...index]))
            start = index + 1
        }
        if start < head.count { result.append(Array(head[start...])) }
        return result
    }

    private static func lineEnd(_ line: [UInt8]) -> [UInt8] {
        line.count >= 2 && line[line.count - 2] == 0x0D ? [0x0D, 0x0A] : [0x0A]
    }

    private static func trimmed(_ line: [UInt8]) -> ArraySlice<UInt8> {
        var slice = line[...]
        while let last = slice.last, last == 0x0A || last == 0x0D { slice = slice.dropLast() }
        return slice
    }

    private static func trimmedSpaces(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }

    /// The request's CSeq, echoed only if it is a plain number (peer text is never reflected otherwise).
    private static func cseq(_ lines: [[UInt8]]) -> String? {
        for line in lines.dropFirst() {
            let line = trimmed(line)
            guard let colon = line.firstIndex(of: 0x3A),
                  String(decoding: line[..<colon], as: UTF8.self).lowercased() == "cseq" else { continue }
            let value = trimmedSpaces(line[(colon + 1)...])
            guard !value.isEmpty, value.count <= 10, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return String(decoding: value, as: UTF8.self)
        }
        return nil
    }
}
