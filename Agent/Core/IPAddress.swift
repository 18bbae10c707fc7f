/// A numeric IPv4 (4 bytes) or IPv6 (16 bytes) address, parsed from bytes so
/// that no libc (inet_pton) and no Character API is needed.
public struct IPAddress: Equatable, Sendable {
    public var bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) { self.init(text: Array(text.utf8)) }

    /// Dotted quad, or RFC 4291 text (with `::` and a trailing dotted quad).
    /// Zone ids (`%eth0`) and leading zeros in a quad (octal in some libcs) are refused.
    public init?(text: [UInt8]) {
        if let v4 = IPAddress.parseV4(text[...]) {
            bytes = v4
        } else if let v6 = IPAddress.parseV6(text) {
            bytes = v6
        } else {
            return nil
        }
    }

    public var isV6: Bool { bytes.count == 16 }

    static func parseV4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var result: [UInt8] = []
        var value = 0
        var digits = 0
        for byte in text {
            if byte == 0x2E {
                guard digits > 0, result.count < 3 else { return nil }
                result.append(UInt8(value))
                value = 0
                digits = 0
            } else if byte >= 0x30 && byte <= 0x39 {
                if digits > 0 && value == 0 { return nil }
                value = value * 10 + Int(byte - 0x30)
                digits += 1
                guard value <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, result.count == 3 else { return nil }
        result.append(UInt8(value))
        return result
    }

    static func parseV6(_ text: [UInt8]) -> [UInt8]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        var head: [UInt8] = []  // groups before "::"
        var tail: [UInt8] = []  // groups after it
        var sawGap = false
        var index = 0
        if text[0] == 0x3A {
            guard text[1] == 0x3A else { return nil }
            sawGap = true
            index = 2
        }
        while index < text.count {
            // A dotted quad may end the address.
            var end = index
            while end < text.count && text[end] != 0x3A { end += 1 }
            if end == text.count, let quad = parseV4(text[index..<end]) {
                if sawGap { tail += quad } else { head += quad }
                index = end
                break
            }
            var value = 0
            var digits = 0
            while index < text.count, let nibble = hexValue(text[index]) {
                value = value * 16 + Int(nibble)
                digits += 1
                index += 1
                guard digits <= 4 else { return nil }
            }
            guard digits > 0 else { return nil }
            let group: [UInt8] = [UInt8(value >> 8), UInt8(value & 0xFF)]
            if sawGap { tail += group } else { head += group }
            if index == text.count { break }
            guard text[index] == 0x3A, index + 1 < text.count else { return nil }
            index += 1
            if text[index] == 0x3A {
                guard !sawGap else { return nil }
                sawGap = true
                index += 1
            }
        }
        let written = head.count + tail.count
        if sawGap {
            guard written <= 14 else { return nil }
            return head + [UInt8](repeating: 0, count: 16 - written) + tail
        }
        return written == 16 ? head : nil
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
