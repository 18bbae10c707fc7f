/// Takes credentials out of text before it is logged: the value of every
/// `token=` query parameter (viewer tokens ride in RTSP and HTTP URLs) and of
/// every `Authorization:` header. A request line or header block that a
/// handler logs whole can then never leak a token, whoever forgot to strip it.
/// ServerLogHandler applies it to every line; handlers may call it earlier.
public enum LogRedaction {
    public static let placeholder = "<redacted>"

    public static func redact(_ text: String) -> String {
        let bytes = Array(text.utf8)
        // Fast path: almost no log line carries either marker.
        guard containsFolded(bytes, tokenKey) || containsFolded(bytes, authorizationKey) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if isQueryStart(bytes, index), matchesFolded(bytes, at: index, tokenKey) {
                // `token=` right after `?`, `&`, `;` or at the start: redact up to the parameter's end.
                out.append(contentsOf: bytes[index..<(index + tokenKey.count)])
                index += tokenKey.count
                let start = index
                while index < bytes.count, !isValueEnd(bytes[index]) { index += 1 }
                if index > start { out.append(contentsOf: Array(placeholder.utf8)) }
                continue
            }
            if isLineStart(bytes, index), matchesFolded(bytes, at: index, authorizationKey) {
                // `Authorization:` keeps its scheme word (Bearer, Basic) for the reader; the rest of the line goes.
                out.append(contentsOf: bytes[index..<(index + authorizationKey.count)])
                index += authorizationKey.count
                while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 {
                    out.append(bytes[index])
                    index += 1
                }
                var scheme: [UInt8] = []
                while index < bytes.count, !isLineEnd(bytes[index]), bytes[index] != 0x20 {
                    scheme.append(bytes[index])
                    index += 1
                }
                var rest = false
                while index < bytes.count, !isLineEnd(bytes[index]) {
                    rest = true
                    index += 1
                }
                if rest {
                    out.append(contentsOf: scheme)
                    out.append(0x20)
                }
                if !scheme.isEmpty { out.append(contentsOf: Array(placeholder.utf8)) }
                continue
            }
            out.append(bytes[index])
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let tokenKey = Array("token=".utf8)
    private static let authorizationKey = Array("authorization:".utf8)

    private static func isQueryStart(_ bytes: [UInt8], _ index: Int) -> Bool {
        index == 0 || bytes[index - 1] == 0x3F || bytes[index - 1] == 0x26 || bytes[index - 1] == 0x3B
            || bytes[index - 1] == 0x20
    }

    /// A header starts a line, or follows a space or quote in a one-line summary ("…, Authorization: …").
    private static func isLineStart(_ bytes: [UInt8], _ index: Int) -> Bool {
        index == 0 || isLineEnd(bytes[index - 1]) || bytes[index - 1] == 0x20 || bytes[index - 1] == 0x22
    }

    private static func isValueEnd(_ byte: UInt8) -> Bool {
        byte == 0x26 || byte == 0x3B || byte == 0x23 || byte == 0x20 || byte == 0x09 || byte == 0x22 || byte == 0x27
            || isLineEnd(byte)
    }

    private static func isLineEnd(_ byte: UInt8) -> Bool { byte == 0x0D || byte == 0x0A }

    private static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }

    private static func matchesFolded(_ bytes: [UInt8], at index: Int, _ key: [UInt8]) -> Bool {
        guard index + key.count <= bytes.count else { return false }
        for offset in 0..<key.count where lower(bytes[index + offset]) != key[offset] { return false }
        return true
    }

    private static func containsFolded(_ bytes: [UInt8], _ key: [UInt8]) -> Bool {
        guard bytes.count >= key.count else { return false }
        for index in 0...(bytes.count - key.count) where matchesFolded(bytes, at: index, key) { return true }
        return false
    }
}
