/// Log lines are read by people and parsed by tools, one event per line. Text
/// that a peer chose (an ERROR message, a host name, a refusal reason) must not
/// be able to end a line and forge the next one, hide itself with terminal
/// escapes or bidirectional overrides, or flood the log. Both the agent's and
/// the servers' log sinks pass every line through `LogText.line`, so no call
/// site can forget; `LogText.peer` additionally caps one peer-supplied field so
/// that it cannot push the rest of its line out.
public enum LogText {
    /// The longest peer-supplied field kept in a log line, in bytes.
    public static let peerFieldLimit = 200
    /// The longest log line text kept, in bytes (before the timestamp and level).
    public static let lineLimit = 2048

    /// `text` with every byte outside printable ASCII written as `\xNN`, cut to
    /// `limit` bytes of output with a note of how much was left out. With
    /// `escapingBackslash` a backslash is written `\x5c` too, so that an escape
    /// in a peer's field is never ambiguous; the line sinks leave backslashes
    /// alone, so that a field escaped that way is not escaped twice.
    public static func escaped(_ text: String, limit: Int = LogText.lineLimit, escapingBackslash: Bool = false) -> String {
        var out: [UInt8] = []
        var left = text.utf8.count
        for byte in text.utf8 {
            let plain = byte >= 0x20 && byte < 0x7F && !(escapingBackslash && byte == 0x5C)
            if out.count + (plain ? 1 : 4) > limit { break }
            left -= 1
            if plain {
                out.append(byte)
            } else {
                out += [0x5C, 0x78, hexDigit(byte >> 4), hexDigit(byte & 0x0F)]
            }
        }
        let result = String(decoding: out, as: UTF8.self)
        return left == 0 ? result : result + "...(" + String(left) + " more bytes)"
    }

    /// One peer-supplied field for a log line: escaped and capped at `peerFieldLimit`.
    public static func peer(_ text: String) -> String {
        escaped(text, limit: peerFieldLimit, escapingBackslash: true)
    }

    /// A peer-supplied field given as raw bytes (which need not be UTF-8).
    public static func peer(bytes: [UInt8]) -> String {
        // Invalid UTF-8 becomes U+FFFD here, which `escaped` then writes as bytes.
        peer(String(decoding: bytes, as: UTF8.self))
    }

    /// The text of a whole log line, as the sinks write it.
    public static func line(_ text: String) -> String {
        escaped(text, limit: lineLimit)
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 + value : 0x61 + value - 10
    }
}
