// Reading H.264/H.265 parameter sets: the RBSP (emulation prevention removed)
// read MSB first, with Exp-Golomb codes (H.264 §9.1).

public enum BitstreamError: Error, Equatable, Sendable {
    /// The syntax needed more bits than the NAL unit holds.
    case truncated
    /// An Exp-Golomb code longer than 32 bits, or a field outside its range.
    case invalidSyntax
    /// Not the NAL unit type the parser was given for.
    case wrongNALType
}

/// Removes emulation_prevention_three_byte so the bit reader sees the RBSP.
public func unescapeRBSP(_ nal: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(nal.count)
    var zeros = 0
    for b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0
            continue
        }
        out.append(b)
        zeros = (b == 0) ? zeros + 1 : 0
    }
    return out
}

public struct BitReader {
    private let bytes: [UInt8]
    private var bitPosition = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func bit() throws(BitstreamError) -> UInt32 {
        let byte = bitPosition >> 3
        guard byte < bytes.count else { throw .truncated }
        let value = (bytes[byte] >> (7 - UInt8(bitPosition & 7))) & 1
        bitPosition += 1
        return UInt32(value)
    }

    public mutating func flag() throws(BitstreamError) -> Bool { try bit() == 1 }

    /// Up to 32 bits, MSB first.
    public mutating func bits(_ count: Int) throws(BitstreamError) -> UInt32 {
        var value: UInt64 = 0
        for _ in 0..<count { value = (value << 1) | UInt64(try bit()) }
        return UInt32(truncatingIfNeeded: value)
    }

    public mutating func skip(_ count: Int) throws(BitstreamError) {
        guard count >= 0, bitPosition + count <= bytes.count * 8 else { throw .truncated }
        bitPosition += count
    }

    /// ue(v)
    public mutating func ue() throws(BitstreamError) -> UInt32 {
        var zeros = 0
        while try bit() == 0 {
            zeros += 1
            if zeros > 31 { throw .invalidSyntax }
        }
        if zeros == 0 { return 0 }
        return UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(zeros)) - 1 + UInt64(try bits(zeros)))
    }

    /// ue(v) that must not exceed `limit`; as Int, which is 32 bits on the agent's targets.
    public mutating func ue(atMost limit: Int) throws(BitstreamError) -> Int {
        let value = try ue()
        guard value <= UInt32(limit) else { throw .invalidSyntax }
        return Int(value)
    }

    /// se(v)
    public mutating func se() throws(BitstreamError) -> Int32 {
        let k = Int64(try ue())
        let value = k & 1 == 1 ? (k + 1) / 2 : -(k / 2)
        // ue() tops out at 2^32 - 1, whose mapping (-2^31 + 1 .. 2^31) just overflows Int32.
        guard value <= Int64(Int32.max) else { throw .invalidSyntax }
        return Int32(value)
    }
}
