/// What a host may be, wherever it comes from: a config line or a message from
/// a server. A DNS name (letters, digits, `.`, `-`, `_`), an IPv4 address, or
/// an IPv6 address written WITHOUT brackets (`::1`, `fe80::1`); brackets belong
/// to the `[v6]:port` notation of config files and logs, never to a host field
/// on the wire. At most 253 bytes. A host from the wire that breaks this rule
/// is a protocol violation: it never reaches the resolver or a log line.
public enum HostSyntax {
    public static let maxBytes = 253

    public static func isValid(_ host: String) -> Bool {
        let bytes = host.utf8
        guard !bytes.isEmpty, bytes.count <= maxBytes else { return false }
        for byte in bytes {
            let lower = byte | 0x20  // folds A-Z onto a-z; no other allowed byte maps into a-z
            guard (lower >= 0x61 && lower <= 0x7A) || (byte >= 0x2D && byte <= 0x3A && byte != 0x2F) || byte == 0x5F else {
                return false
            }
        }
        return true
    }

}
