/// Agent and streampoint ids: 1–64 characters of [A-Za-z0-9._-]. The rule keeps
/// ids safe to print in logs, URLs and file names.
public enum Identifier {
    public static let maxLength = 64

    public static func isValid(_ id: String) -> Bool {
        let utf8 = Array(id.utf8)
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    public static let rule = "1 to 64 characters of A-Z a-z 0-9 . _ -"
}
