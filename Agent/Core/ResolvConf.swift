/// A DNS server the resolver asks.
public struct Nameserver: Equatable, Sendable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }
}

/// What the resolver takes from resolv.conf.
public struct ResolverSettings: Equatable, Sendable {
    public var nameservers: [Nameserver]
    /// How long one query waits for one server before the next step.
    public var timeoutMs: Int64
    /// Rounds over the server list.
    public var attempts: Int

    public init(nameservers: [Nameserver], timeoutMs: Int64 = 5000, attempts: Int = 2) {
        self.nameservers = nameservers
        self.timeoutMs = timeoutMs
        self.attempts = attempts
    }
}

/// The parts of resolv.conf(5) the agent uses: `nameserver` lines (at most
/// three, like libc's MAXNS) and `options timeout:N attempts:N`. `search`,
/// `domain` and `ndots` are ignored: the agent's names are fully qualified.
/// Beyond libc, `nameserver 127.0.0.1:5353` and `nameserver [::1]:5353` name a
/// port (tests run their DNS server on an ephemeral port).
public enum ResolvConf {
    public static let maxNameservers = 3

    public static func parse(_ text: [UInt8]) -> ResolverSettings {
        var settings = ResolverSettings(nameservers: [])
        for line in byteLines(text) {
            let words = byteWords(line)
            guard let keyword = words.first, keyword.first != 0x23, keyword.first != 0x3B else { continue }
            if bytesMatch(keyword, "nameserver"), words.count >= 2,
               settings.nameservers.count < maxNameservers, let server = parseServer(Array(words[1])) {
                settings.nameservers.append(server)
            } else if bytesMatch(keyword, "options") {
                for option in words[1...] {
                    if bytesMatch(option, "timeout:", whole: false), let value = decimal(option.dropFirst(8)), value >= 1 {
                        settings.timeoutMs = min(value, 30) * 1000
                    } else if bytesMatch(option, "attempts:", whole: false), let value = decimal(option.dropFirst(9)), value >= 1 {
                        settings.attempts = Int(min(value, 5))
                    }
                }
            }
        }
        // libc's rule for a file without nameservers: ask the local host.
        if settings.nameservers.isEmpty { settings.nameservers = [Nameserver(address: IPAddress(bytes: [127, 0, 0, 1])!)] }
        return settings
    }

    static func parseServer(_ word: [UInt8]) -> Nameserver? {
        if let address = IPAddress(text: word) { return Nameserver(address: address) }
        var host = word[...]
        var portText: ArraySlice<UInt8>
        if word.first == 0x5B {
            guard let close = word.firstIndex(of: 0x5D), close + 1 < word.count, word[close + 1] == 0x3A else { return nil }
            host = word[1..<close]
            portText = word[(close + 2)...]
        } else {
            guard let colon = word.lastIndex(of: 0x3A) else { return nil }
            host = word[..<colon]
            portText = word[(colon + 1)...]
        }
        guard let address = IPAddress(text: Array(host)), let port = decimal(portText), port >= 1, port <= 65535 else { return nil }
        if word.first != 0x5B && address.isV6 { return nil }  // "::1:53" is an address, not a port
        return Nameserver(address: address, port: UInt16(port))
    }

    static func decimal(_ text: ArraySlice<UInt8>) -> Int64? {
        guard !text.isEmpty, text.count <= 6 else { return nil }
        var value: Int64 = 0
        for byte in text {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }
}
