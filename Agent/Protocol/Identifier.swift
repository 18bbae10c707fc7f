/// Agent ids, serials, target and streampoint names: 1–64 of [A-Za-z0-9._-].
/// One rule for the agent's config, the wire and the servers' registry, so an
/// id one side accepts is never refused by another; it also keeps ids safe to
/// print in logs, URLs and file names.
public enum Identifier {
    public static let maxLength = 64

    public static func isValid(_ text: String) -> Bool {
        let count = text.utf8.count
        guard count >= 1, count <= maxLength else { return false }
        for byte in text.utf8 where !isIdentifierByte(byte) { return false }
        return true
    }

    public static let rule = "1 to 64 characters of A-Z a-z 0-9 . _ -"

    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == 0x2E || byte == 0x5F || byte == 0x2D
    }
}
