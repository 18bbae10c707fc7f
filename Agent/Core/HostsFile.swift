/// /etc/hosts(5): `address name [aliases...]`, `#` comments. Consulted before
/// DNS, as libc does with the usual nsswitch `hosts: files dns`.
public enum HostsFile {
    /// Every address listed for `name` (ASCII case-insensitive), in file order, at most `limit`.
    public static func addresses(for name: [UInt8], in text: [UInt8], limit: Int = 4) -> [IPAddress] {
        var found: [IPAddress] = []
        let wanted = name.last == 0x2E ? Array(name.dropLast()) : name
        guard !wanted.isEmpty else { return [] }
        for rawLine in byteLines(text) {
            var line = rawLine
            if let hash = line.firstIndex(of: 0x23) { line = line[..<hash] }
            let words = byteWords(line)
            guard words.count >= 2 else { continue }
            var listed = false
            for alias in words[1...] where equalIgnoringCase(alias, wanted[...]) { listed = true }
            guard listed, let address = IPAddress(text: Array(words[0])), !found.contains(address) else { continue }
            found.append(address)
            if found.count == limit { break }
        }
        return found
    }

    static func equalIgnoringCase(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var j = b.startIndex
        for x in a {
            guard asciiLowercase(x) == asciiLowercase(b[j]) else { return false }
            j += 1
        }
        return true
    }
}
