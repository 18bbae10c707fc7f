/// What one DNS response says about one question.
public enum DNSAnswer: Equatable, Sendable {
    /// NOERROR: the addresses of the asked type, after following CNAMEs (may be empty: no data).
    case addresses([IPAddress])
    /// NXDOMAIN: the name does not exist; no other server is asked.
    case nameError
    /// The right server answered our question but cannot help (SERVFAIL,
    /// REFUSED, a malformed body): ask the next server.
    case serverFailure(String)
    /// The answer did not fit in the datagram (TC) and what arrived has no
    /// addresses: ask the same server over TCP.
    case truncated
    /// Not an answer to our question (wrong id, wrong question, not a
    /// response, too short to tell): dropped, as a spoofed datagram must be.
    case unrelated(String)
}

/// RFC 1035 messages: a query for one name and type, and the parts of a
/// response the agent needs. Every read is bounds-checked; names are read
/// through at most `maxPointerJumps` compression pointers, so a pointer loop
/// ends in an error instead of a hang.
public enum DNSMessage {
    public static let typeA: UInt16 = 1
    public static let typeAAAA: UInt16 = 28
    static let typeCNAME: UInt16 = 5
    static let classIN: UInt16 = 1
    static let maxPointerJumps = 16
    static let maxNameLength = 255
    static let maxCNAMEHops = 8
    static let maxRecords = 64

    /// A recursive query (RD set) for `name`; nil if `name` is not a valid DNS name.
    public static func query(id: UInt16, name: [UInt8], type: UInt16) -> [UInt8]? {
        guard let labels = encodeName(name) else { return nil }
        var packet: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        packet += labels
        packet += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return packet
    }

    /// Labels of `name` (a trailing dot allowed), lowercased; letters, digits, `-` and `_` only.
    static func encodeName(_ name: [UInt8]) -> [UInt8]? {
        let end = name.last == 0x2E ? name.count - 1 : name.count
        guard end > 0, end <= 253 else { return nil }
        var out: [UInt8] = [0]
        var lengthAt = 0
        for index in 0..<end {
            let byte = name[index]
            if byte == 0x2E {
                guard out.count - lengthAt > 1 else { return nil }
                lengthAt = out.count
                out.append(0)
                continue
            }
            guard isAlphanumeric(byte) || byte == 0x2D || byte == 0x5F, out.count - lengthAt <= 63 else { return nil }
            out.append(asciiLowercase(byte))
            out[lengthAt] += 1
        }
        guard out.count - lengthAt > 1 else { return nil }
        out.append(0)
        return out
    }

    public static func parse(_ packet: [UInt8], id: UInt16, name: [UInt8], type: UInt16) -> DNSAnswer {
        guard packet.count >= 12 else { return .unrelated("shorter than a DNS header") }
        guard u16(packet, 0) == id else { return .unrelated("wrong id") }
        let flags = u16(packet, 2)
        guard flags & 0x8000 != 0 else { return .unrelated("not a response") }
        guard u16(packet, 4) == 1, let question = encodeName(name) else { return .unrelated("wrong question") }
        var offset = 12
        guard let asked = readName(packet, &offset), offset + 4 <= packet.count,
              asked == question, u16(packet, offset) == type, u16(packet, offset + 2) == classIN else {
            return .unrelated("wrong question")
        }
        offset += 4
        switch flags & 0x000F {
        case 0: break
        case 3: return .nameError
        case 2: return .serverFailure("server failure (SERVFAIL)")
        case 5: return .serverFailure("query refused (REFUSED)")
        default: return .serverFailure("error code \(flags & 0x000F)")
        }
        let truncated = flags & 0x0200 != 0
        // Per answer record: where its owner name starts, its type, where its data starts, the data's length.
        var records: [Int] = []
        let answerCount = Int(u16(packet, 6))
        for _ in 0..<min(answerCount, maxRecords) {
            let ownerAt = offset
            guard readName(packet, &offset) != nil, offset + 10 <= packet.count,
                  offset + 10 + Int(u16(packet, offset + 8)) <= packet.count else {
                // A truncated message may end mid-record; what came before still counts.
                if truncated { break }
                return .serverFailure("malformed answer")
            }
            let length = Int(u16(packet, offset + 8))
            if u16(packet, offset + 2) == classIN { records += [ownerAt, Int(u16(packet, offset)), offset + 10, length] }
            offset += 10 + length
        }
        // Follow the CNAME chain from the question to the name that has the addresses.
        var current = question
        var addresses: [IPAddress] = []
        for _ in 0...maxCNAMEHops {
            var next: [UInt8]?
            var index = 0
            while index < records.count {
                var ownerAt = records[index]
                let recordType = UInt16(records[index + 1]), start = records[index + 2], length = records[index + 3]
                index += 4
                guard readName(packet, &ownerAt) == current else { continue }
                if recordType == type, length == (type == typeA ? 4 : 16),
                   let address = IPAddress(bytes: Array(packet[start..<(start + length)])) {
                    if !addresses.contains(address) { addresses.append(address) }
                } else if recordType == typeCNAME, next == nil {
                    var at = start
                    guard let target = readName(packet, &at), at <= start + length else { return .serverFailure("malformed answer") }
                    next = target
                }
            }
            guard addresses.isEmpty, let next else { break }
            current = next
        }
        if addresses.isEmpty && truncated { return .truncated }
        return .addresses(addresses)
    }

    /// The name at `offset` in wire form (length-prefixed labels, lowercased,
    /// ending in 0), expanding compression pointers; `offset` moves past it.
    static func readName(_ packet: [UInt8], _ offset: inout Int) -> [UInt8]? {
        var out: [UInt8] = []
        var at = offset
        var jumps = 0
        var resume: Int?
        while true {
            guard at < packet.count else { return nil }
            let length = Int(packet[at])
            if length & 0xC0 == 0xC0 {
                guard at + 1 < packet.count, jumps < maxPointerJumps else { return nil }
                if resume == nil { resume = at + 2 }
                at = (length & 0x3F) << 8 | Int(packet[at + 1])
                jumps += 1
                continue
            }
            guard length & 0xC0 == 0 else { return nil }  // the reserved label types
            if length == 0 {
                out.append(0)
                offset = resume ?? at + 1
                return out
            }
            guard at + 1 + length <= packet.count, out.count + 1 + length + 1 <= maxNameLength else { return nil }
            out.append(UInt8(length))
            for byte in packet[(at + 1)...(at + length)] { out.append(asciiLowercase(byte)) }
            at += 1 + length
        }
    }

    static func u16(_ packet: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(packet[offset]) << 8 | UInt16(packet[offset + 1])
    }
}
