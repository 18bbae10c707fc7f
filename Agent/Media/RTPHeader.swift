// RTP fixed header (RFC 3550 §5.1): what every depacketiser reads first and
// every packetiser writes first.

public enum RTPError: Error, Equatable, Sendable {
    /// Fewer than the 12 fixed-header bytes, or fewer than the CSRC list claims.
    case truncatedHeader
    /// Version field other than 2 (RTCP, STUN or garbage on the RTP channel).
    case unsupportedVersion(UInt8)
    /// The header extension's length runs past the packet.
    case truncatedExtension
    /// The padding count (last byte) is zero or larger than the payload.
    case badPadding
    /// A payload the codec's RTP format cannot start with (empty, or a header
    /// too short for its own fields).
    case truncatedPayload
    /// An aggregation packet whose unit lengths do not add up to the payload.
    case malformedAggregation
    /// NAL unit or packet type the payload format reserves or does not use here.
    case unsupportedPayloadType(UInt8)
    /// RFC 3640 AU headers whose sizes do not match the data section.
    case malformedAUHeaders
}

public struct RTPHeader: Equatable, Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32]

    public init(marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, csrcs: [UInt32] = []) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
    }

    /// Bytes `append(to:)` writes: 12 plus 4 per CSRC (never an extension or padding).
    public var encodedSize: Int { 12 + 4 * min(csrcs.count, 15) }

    /// Writes the header with no extension and no padding; at most 15 CSRCs.
    public func append(to out: inout [UInt8]) {
        let count = min(csrcs.count, 15)
        out.append(0x80 | UInt8(count))
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        appendBigEndian(sequenceNumber, to: &out)
        appendBigEndian(timestamp, to: &out)
        appendBigEndian(ssrc, to: &out)
        for i in 0..<count { appendBigEndian(csrcs[i], to: &out) }
    }
}

/// One received RTP packet: its header and where the payload lies in `bytes`
/// (extension and padding already skipped).
public struct RTPPacket: Sendable {
    public var header: RTPHeader
    public var bytes: [UInt8]
    public var payloadRange: Range<Int>

    public var payload: ArraySlice<UInt8> { bytes[payloadRange] }

    public init(parsing bytes: [UInt8]) throws(RTPError) {
        guard bytes.count >= 12 else { throw .truncatedHeader }
        let first = bytes[0]
        let version = first >> 6
        guard version == 2 else { throw .unsupportedVersion(version) }
        let csrcCount = Int(first & 0x0F)
        var offset = 12 + 4 * csrcCount
        guard bytes.count >= offset else { throw .truncatedHeader }
        var csrcs: [UInt32] = []
        for i in 0..<csrcCount { csrcs.append(readBigEndian32(bytes, 12 + 4 * i)) }
        if first & 0x10 != 0 {
            // Extension: 16-bit profile, 16-bit length in 32-bit words, data.
            guard bytes.count >= offset + 4 else { throw .truncatedExtension }
            let words = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            offset += 4 + 4 * words
            guard bytes.count >= offset else { throw .truncatedExtension }
        }
        var end = bytes.count
        if first & 0x20 != 0 {
            let padding = Int(bytes[end - 1])
            guard padding > 0, padding <= end - offset else { throw .badPadding }
            end -= padding
        }
        header = RTPHeader(
            marker: bytes[1] & 0x80 != 0, payloadType: bytes[1] & 0x7F,
            sequenceNumber: UInt16(bytes[2]) << 8 | UInt16(bytes[3]),
            timestamp: readBigEndian32(bytes, 4), ssrc: readBigEndian32(bytes, 8), csrcs: csrcs)
        self.bytes = bytes
        payloadRange = offset..<end
    }
}

@inline(__always)
func readBigEndian32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

@inline(__always)
func appendBigEndian(_ value: UInt16, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: value >> 8))
    out.append(UInt8(truncatingIfNeeded: value))
}

@inline(__always)
func appendBigEndian(_ value: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: value >> 24))
    out.append(UInt8(truncatingIfNeeded: value >> 16))
    out.append(UInt8(truncatingIfNeeded: value >> 8))
    out.append(UInt8(truncatingIfNeeded: value))
}
