/// Appends big-endian integers and length-prefixed fields to a byte array.
public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func u32(_ value: UInt32) {
        u16(UInt16(truncatingIfNeeded: value >> 16))
        u16(UInt16(truncatingIfNeeded: value))
    }

    public mutating func u64(_ value: UInt64) {
        u32(UInt32(truncatingIfNeeded: value >> 32))
        u32(UInt32(truncatingIfNeeded: value))
    }

    public mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    /// u16 length then UTF-8 bytes. Callers keep strings under maxStringBytes.
    public mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        u16(UInt16(truncatingIfNeeded: utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// u16 length then the bytes.
    public mutating func blob(_ value: [UInt8]) {
        u16(UInt16(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads what ByteWriter wrote; every read checks bounds and throws on truncation.
public struct ByteReader {
    private let bytes: [UInt8]
    private var index: Int
    private let context: String

    public init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.index = 0
        self.context = context
    }

    public var remaining: Int { bytes.count - index }

    public mutating func u8() throws(ProtocolError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(message: context) }
        defer { index += 1 }
        return bytes[index]
    }

    public mutating func u16() throws(ProtocolError) -> UInt16 {
        let high = UInt16(try u8())
        let low = UInt16(try u8())
        return high << 8 | low
    }

    public mutating func u32() throws(ProtocolError) -> UInt32 {
        let high = UInt32(try u16())
        let low = UInt32(try u16())
        return high << 16 | low
    }

    public mutating func u64() throws(ProtocolError) -> UInt64 {
        let high = UInt64(try u32())
        let low = UInt64(try u32())
        return high << 32 | low
    }

    public mutating func raw(_ count: Int) throws(ProtocolError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw .truncated(message: context) }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    public mutating func blob() throws(ProtocolError) -> [UInt8] {
        let count = Int(try u16())
        return try raw(count)
    }

    public mutating func string() throws(ProtocolError) -> String {
        let count = Int(try u16())
        guard count <= ProtocolConstants.maxStringBytes else { throw .stringTooLong }
        let utf8 = try raw(count)
        guard let text = decodeUTF8(utf8) else { throw .invalidUTF8 }
        return text
    }

    /// A host field: a string that must follow `HostSyntax`.
    public mutating func host() throws(ProtocolError) -> String {
        let text = try string()
        guard HostSyntax.isValid(text) else { throw .invalidHost(message: context) }
        return text
    }
}

/// Strict UTF-8 decoding that works in Embedded Swift (no Foundation).
public func decodeUTF8(_ bytes: [UInt8]) -> String? {
    var scalars = String.UnicodeScalarView()
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): scalars.append(scalar)
        case .emptyInput: return String(scalars)
        case .error: return nil
        }
    }
}

/// `text` cut at every `separator` byte (an ASCII byte, so never inside a
/// multi-byte character), at most `maxSplits` times. Works on the UTF-8 bytes:
/// the generic Character-based `split` links grapheme breaking and costs
/// kilobytes per specialisation on armv5. The one splitter of the agent.
public func splitText(_ text: String, at separator: UInt8, maxSplits: Int = Int.max,
                      omittingEmpty: Bool = false) -> [String] {
    let bytes = Array(text.utf8)
    var parts: [String] = []
    var start = 0
    var index = 0
    while index <= bytes.count {
        if index == bytes.count || (bytes[index] == separator && parts.count < maxSplits) {
            if !(omittingEmpty && index == start) {
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            start = index + 1
        }
        index += 1
    }
    return parts
}

/// `text` without leading and trailing spaces and tabs (and carriage returns
/// when asked: config and state files may have CRLF line ends). Works on the
/// UTF-8 bytes rather than Characters, so it needs no grapheme breaking; the
/// one definition for the protocol and core modules.
public func trimmed(_ text: String, carriageReturnsToo: Bool = false) -> String {
    func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || (carriageReturnsToo && byte == 0x0D) }
    let utf8 = text.utf8
    var start = utf8.startIndex, end = utf8.endIndex
    while start < end, isBlank(utf8[start]) { start = utf8.index(after: start) }
    while end > start, isBlank(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
    if start == utf8.startIndex && end == utf8.endIndex { return text }
    return String(text[start..<end])
}
