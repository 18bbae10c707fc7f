// Byte-level text helpers for the RTSP, SDP and auth parsers. They work on
// UTF-8 bytes rather than Characters: String's grapheme-aware APIs pull Unicode
// tables into an embedded binary, and every protocol token here is ASCII.

@usableFromInline
func isASCIISpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

/// RFC 2616 token byte: visible ASCII minus separators.
func isTokenByte(_ byte: UInt8) -> Bool {
    guard byte > 0x20 && byte < 0x7F else { return false }
    switch byte {
    case 0x28, 0x29, 0x3C, 0x3E, 0x40, 0x2C, 0x3B, 0x3A, 0x5C, 0x22, 0x2F, 0x5B, 0x5D, 0x3F, 0x3D, 0x7B, 0x7D:
        return false
    default:
        return true
    }
}

func asciiLowercased(_ byte: UInt8) -> UInt8 { (byte >= 65 && byte <= 90) ? byte | 0x20 : byte }

func trimmedASCIISpaces(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var start = bytes.startIndex
    var end = bytes.endIndex
    while start < end && isASCIISpace(bytes[start]) { start += 1 }
    while end > start && isASCIISpace(bytes[end - 1]) { end -= 1 }
    return bytes[start..<end]
}

func trimmedASCIISpaces(_ text: String) -> String {
    let bytes = Array(text.utf8)
    return String(decoding: trimmedASCIISpaces(bytes[...]), as: UTF8.self)
}

func bytesEqualIgnoringASCIICase(_ bytes: ArraySlice<UInt8>, _ literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    let pointer = literal.utf8Start
    var offset = 0
    for byte in bytes {
        if asciiLowercased(byte) != asciiLowercased(pointer[offset]) { return false }
        offset += 1
    }
    return true
}

func bytesHavePrefixIgnoringASCIICase(_ bytes: ArraySlice<UInt8>, _ literal: StaticString) -> Bool {
    let count = literal.utf8CodeUnitCount
    guard bytes.count >= count else { return false }
    return bytesEqualIgnoringASCIICase(bytes.prefix(count), literal)
}

func textEqualsIgnoringASCIICase(_ text: String, _ literal: StaticString) -> Bool {
    bytesEqualIgnoringASCIICase(Array(text.utf8)[...], literal)
}

func textHasPrefixIgnoringASCIICase(_ text: String, _ literal: StaticString) -> Bool {
    bytesHavePrefixIgnoringASCIICase(Array(text.utf8)[...], literal)
}

/// Splits on `separator`, trimming spaces around each piece; empty pieces are kept
/// so that positions stay meaningful.
func splitTrimmed(_ bytes: ArraySlice<UInt8>, on separator: UInt8) -> [ArraySlice<UInt8>] {
    bytes.split(separator: separator, omittingEmptySubsequences: false).map { trimmedASCIISpaces($0) }
}

func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

/// A non-negative decimal number of at most 18 digits (so it cannot overflow);
/// nil for anything else, including signs and spaces.
func parseDecimal(_ bytes: ArraySlice<UInt8>) -> Int? {
    guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
    var value = 0
    for byte in bytes {
        guard byte >= 0x30 && byte <= 0x39 else { return nil }
        value = value * 10 + Int(byte - 0x30)
    }
    return value
}

func parseDecimal(_ text: String) -> Int? { parseDecimal(Array(text.utf8)[...]) }

func appendASCIIDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 0 {
        out.append(0x2D)
        appendASCIIDecimal(0 - value, to: &out)
        return
    }
    var digits: [UInt8] = []
    var rest = value
    repeat {
        digits.append(UInt8(truncatingIfNeeded: rest % 10) + 0x30)
        rest /= 10
    } while rest > 0
    out.append(contentsOf: digits.reversed())
}

func decimalText(_ value: Int) -> String {
    var out: [UInt8] = []
    appendASCIIDecimal(value, to: &out)
    return String(decoding: out, as: UTF8.self)
}

func append(_ text: String, to out: inout [UInt8]) { out.append(contentsOf: text.utf8) }
