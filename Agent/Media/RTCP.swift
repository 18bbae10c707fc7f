// RTCP (RFC 3550 §6): reading a sender's reports to tie RTP time to wall-clock
// time, and writing our own sender and receiver reports.

public enum RTCPError: Error, Equatable, Sendable {
    /// Shorter than a 4-byte RTCP header, or a length field past the end.
    case truncated
    case unsupportedVersion(UInt8)
    /// A sender report shorter than its 24-byte sender info.
    case malformedSenderReport
}

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
public let ntpUnixEpochOffset: UInt64 = 2_208_988_800

public struct RTCPSenderReport: Equatable, Sendable {
    public var ssrc: UInt32
    /// 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, fraction in the low.
    public var ntpTime: UInt64
    /// The same instant in the sender's RTP clock.
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32

    public init(ssrc: UInt32, ntpTime: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32) {
        self.ssrc = ssrc
        self.ntpTime = ntpTime
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
    }

    /// The report's NTP time as nanoseconds since the Unix epoch.
    public var unixNanoseconds: Int64 {
        let seconds = Int64(ntpTime >> 32) - Int64(ntpUnixEpochOffset)
        let fraction = ((ntpTime & 0xFFFF_FFFF) * 1_000_000_000) >> 32
        return seconds * 1_000_000_000 + Int64(fraction)
    }

    /// Wall-clock time (Unix nanoseconds) of RTP `timestamp` on this sender's
    /// clock; valid within ±2^31 ticks of the report.
    public func unixNanoseconds(atRTPTimestamp timestamp: UInt32, clockRate: UInt32) -> Int64 {
        guard clockRate > 0 else { return unixNanoseconds }
        let ticks = Int64(Int32(bitPattern: timestamp &- rtpTimestamp))
        return unixNanoseconds + ticks * 1_000_000_000 / Int64(clockRate)
    }

    /// The middle 32 bits of the NTP time: a receiver report's "last SR".
    public var compactNTPTime: UInt32 { UInt32(truncatingIfNeeded: ntpTime >> 16) }
}

/// One reception report block (RFC 3550 §6.4.1).
public struct RTCPReportBlock: Equatable, Sendable {
    public var ssrc: UInt32
    public var fractionLost: UInt8
    /// 24-bit signed on the wire; clamped when written.
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    public var jitter: UInt32
    public var lastSenderReport: UInt32
    /// Since the last SR, in units of 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequence: UInt32 = 0,
                jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }
}

/// What a receiver needs from a compound RTCP packet; other packet types
/// (SDES, APP, XR, ...) are skipped by their length.
public struct RTCPCompoundPacket: Sendable {
    public var senderReports: [RTCPSenderReport] = []
    /// SSRCs that said BYE.
    public var byeSSRCs: [UInt32] = []

    public init(parsing bytes: [UInt8]) throws(RTCPError) {
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw .truncated }
            let version = bytes[offset] >> 6
            guard version == 2 else { throw .unsupportedVersion(version) }
            let count = Int(bytes[offset] & 0x1F)
            let type = bytes[offset + 1]
            let length = 4 * (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]) + 1)
            guard bytes.count - offset >= length else { throw .truncated }
            switch type {
            case 200:
                guard length >= 28 else { throw .malformedSenderReport }
                senderReports.append(RTCPSenderReport(
                    ssrc: readBigEndian32(bytes, offset + 4),
                    ntpTime: UInt64(readBigEndian32(bytes, offset + 8)) << 32 | UInt64(readBigEndian32(bytes, offset + 12)),
                    rtpTimestamp: readBigEndian32(bytes, offset + 16),
                    packetCount: readBigEndian32(bytes, offset + 20),
                    octetCount: readBigEndian32(bytes, offset + 24)))
            case 203:
                var i = 0
                while i < count && 4 + 4 * (i + 1) <= length {
                    byeSSRCs.append(readBigEndian32(bytes, offset + 4 + 4 * i))
                    i += 1
                }
            default:
                break
            }
            offset += length
        }
    }
}

/// Writers for the RTCP packets we send. Each appends one RTCP packet; RFC 3550
/// wants every compound packet to start with SR or RR and carry an SDES CNAME,
/// so callers append a report and then `appendSourceDescription`.
public enum RTCPWriter {
    public static func appendSenderReport(_ report: RTCPSenderReport, blocks: [RTCPReportBlock] = [], to out: inout [UInt8]) {
        let count = min(blocks.count, 31)
        out.append(0x80 | UInt8(count))
        out.append(200)
        appendBigEndian(UInt16(6 + 6 * count), to: &out)
        appendBigEndian(report.ssrc, to: &out)
        appendBigEndian(UInt32(truncatingIfNeeded: report.ntpTime >> 32), to: &out)
        appendBigEndian(UInt32(truncatingIfNeeded: report.ntpTime), to: &out)
        appendBigEndian(report.rtpTimestamp, to: &out)
        appendBigEndian(report.packetCount, to: &out)
        appendBigEndian(report.octetCount, to: &out)
        for i in 0..<count { append(blocks[i], to: &out) }
    }

    public static func appendReceiverReport(ssrc: UInt32, blocks: [RTCPReportBlock], to out: inout [UInt8]) {
        let count = min(blocks.count, 31)
        out.append(0x80 | UInt8(count))
        out.append(201)
        appendBigEndian(UInt16(1 + 6 * count), to: &out)
        appendBigEndian(ssrc, to: &out)
        for i in 0..<count { append(blocks[i], to: &out) }
    }

    /// SDES with one chunk holding the CNAME item (truncated to 255 bytes).
    public static func appendSourceDescription(ssrc: UInt32, cname: [UInt8], to out: inout [UInt8]) {
        let length = min(cname.count, 255)
        // SSRC, CNAME type and length, text, then the END item and padding to 32 bits.
        let chunk = (4 + 2 + length + 1 + 3) & ~3
        out.append(0x81)
        out.append(202)
        appendBigEndian(UInt16(chunk / 4), to: &out)
        appendBigEndian(ssrc, to: &out)
        out.append(1)
        out.append(UInt8(length))
        out.append(contentsOf: cname[0..<length])
        for _ in 0..<(chunk - 6 - length) { out.append(0) }
    }

    private static func append(_ block: RTCPReportBlock, to out: inout [UInt8]) {
        appendBigEndian(block.ssrc, to: &out)
        let lost = UInt32(bitPattern: max(-0x80_0000, min(0x7F_FFFF, block.cumulativeLost))) & 0xFF_FFFF
        appendBigEndian(UInt32(block.fractionLost) << 24 | lost, to: &out)
        appendBigEndian(block.extendedHighestSequence, to: &out)
        appendBigEndian(block.jitter, to: &out)
        appendBigEndian(block.lastSenderReport, to: &out)
        appendBigEndian(block.delaySinceLastSenderReport, to: &out)
    }
}

extension RTPSequenceTracker {
    /// A report block for this source, with the loss fraction since `previous`
    /// (the tracker as it was when the last report was sent).
    public func reportBlock(ssrc: UInt32, since previous: RTPSequenceTracker?, lastSenderReport: RTCPSenderReport?,
                            delaySinceLastSenderReport: UInt32 = 0) -> RTCPReportBlock {
        let expectedNow = Int64(expected)
        let cumulativeLost = expectedNow - Int64(received)
        var fraction: UInt8 = 0
        if let previous {
            let expectedInterval = expectedNow - Int64(previous.expected)
            let lostInterval = expectedInterval - (Int64(received) - Int64(previous.received))
            if expectedInterval > 0 && lostInterval > 0 {
                fraction = UInt8(min(255, lostInterval * 256 / expectedInterval))
            }
        }
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction,
            cumulativeLost: Int32(max(-0x80_0000, min(0x7F_FFFF, cumulativeLost))),
            extendedHighestSequence: extendedHighestSequence,
            lastSenderReport: lastSenderReport?.compactNTPTime ?? 0,
            delaySinceLastSenderReport: lastSenderReport == nil ? 0 : delaySinceLastSenderReport)
    }
}
