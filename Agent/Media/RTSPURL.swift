// Control URLs (RFC 2326 C.1.1): each SDP track names its control URL,
// usually relative to the presentation's base URL.

public enum RTSPURL {
    /// The base against which a DESCRIBE answer's relative control URLs resolve:
    /// Content-Base, else Content-Location, else the request URL (RFC 2326 C.1.1).
    public static func base(describeResponse: RTSPResponse, requestURL: String) -> String {
        if let base = describeResponse.headers["Content-Base"], !base.isEmpty { return base }
        if let location = describeResponse.headers["Content-Location"], !location.isEmpty { return location }
        return requestURL
    }

    /// Resolves a track's `a=control` against `base`. `*` names the base itself;
    /// an absolute URL stands alone; a path from `/` keeps the base's scheme and
    /// authority. A relative one goes beneath the base as if it ended in `/`:
    /// cameras whose request URL is `rtsp://cam/stream1` mean
    /// `rtsp://cam/stream1/trackID=1`, which is what ffmpeg and live555 do,
    /// not RFC 3986's replacement of the last segment.
    public static func resolve(control: String, base: String) -> String {
        let controlBytes = Array(control.utf8)
        if controlBytes.isEmpty || controlBytes == [0x2A] { return base }
        if hasScheme(controlBytes[...]) { return control }
        var baseBytes = Array(base.utf8)
        if let cut = baseBytes.firstIndex(where: { $0 == 0x3F || $0 == 0x23 }), controlBytes.first != 0x3F {
            baseBytes.removeSubrange(cut...)
        }
        if controlBytes.first == 0x2F {
            return string(authorityPrefix(baseBytes)) + control
        }
        if baseBytes.last != 0x2F && controlBytes.first != 0x3F { baseBytes.append(0x2F) }
        return String(decoding: baseBytes + controlBytes, as: UTF8.self)
    }

    /// Content-Base a server sends for a request URI: the URI without query or
    /// fragment and with a trailing slash, so a relative control like
    /// "trackID=0" resolves beneath it. Built from whatever URL the client used,
    /// it keeps working through a relay on another host and port.
    public static func contentBase(forRequestURI uri: String) -> String {
        var bytes = Array(uri.utf8)
        if let cut = bytes.firstIndex(where: { $0 == 0x3F || $0 == 0x23 }) { bytes.removeSubrange(cut...) }
        if bytes.last != 0x2F { bytes.append(0x2F) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `scheme:` per RFC 3986 §3.1, then `//` (RTSP URLs are hierarchical).
    private static func hasScheme(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let colon = bytes.firstIndex(of: 0x3A), colon > bytes.startIndex else { return false }
        let scheme = bytes[..<colon]
        guard let first = scheme.first, (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7A else { return false }
        for byte in scheme {
            let isLetter = (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A
            let isDigit = byte >= 0x30 && byte <= 0x39
            guard isLetter || isDigit || byte == 0x2B || byte == 0x2D || byte == 0x2E else { return false }
        }
        return bytes[(colon + 1)...].starts(with: [0x2F, 0x2F])
    }

    /// `scheme://authority` of an absolute URL; the whole input if it has none.
    private static func authorityPrefix(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        guard hasScheme(bytes[...]), let colon = bytes.firstIndex(of: 0x3A) else { return bytes[...] }
        let authorityStart = colon + 3
        let authorityEnd = bytes[authorityStart...].firstIndex(of: 0x2F) ?? bytes.endIndex
        return bytes[..<authorityEnd]
    }
}
