// The sending side's per-stream state that every packetiser shares: sequence
// numbers and the counts a sender report carries.

public struct RTPPacketWriter: Sendable {
    /// Keeps every packet under a 1500-byte MTU with room for IP, UDP and
    /// tunnel headers, so packets could be sent over UDP as they are.
    public static let defaultMaxPayload = 1400

    public let payloadType: UInt8
    public let ssrc: UInt32
    /// Payload bytes per packet at most (RTP header not included).
    public let maxPayload: Int
    public private(set) var sequenceNumber: UInt16
    /// Counters for RTCP sender reports; they wrap as RFC 3550 allows.
    public private(set) var packetCount: UInt32 = 0
    public private(set) var octetCount: UInt32 = 0

    /// `maxPayload` is raised to 16 if smaller: the fragmenting formats need a
    /// few header bytes and at least one byte of data per packet.
    public init(payloadType: UInt8, ssrc: UInt32, initialSequenceNumber: UInt16, maxPayload: Int = defaultMaxPayload) {
        self.payloadType = payloadType & 0x7F
        self.ssrc = ssrc
        self.sequenceNumber = initialSequenceNumber
        self.maxPayload = max(16, maxPayload)
    }

    /// One packet: the header, then `prefix` (payload-format header bytes), then `data`.
    mutating func packet(marker: Bool, timestamp: UInt32, prefix: [UInt8], data: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12 + prefix.count + data.count)
        RTPHeader(marker: marker, payloadType: payloadType, sequenceNumber: sequenceNumber, timestamp: timestamp, ssrc: ssrc)
            .append(to: &out)
        out.append(contentsOf: prefix)
        out.append(contentsOf: data)
        sequenceNumber &+= 1
        packetCount &+= 1
        octetCount &+= UInt32(truncatingIfNeeded: prefix.count + data.count)
        return out
    }

    /// A sender report for this stream at `ntpTime`, for the RTP time `rtpTimestamp`.
    public func senderReport(ntpTime: UInt64, rtpTimestamp: UInt32) -> RTCPSenderReport {
        RTCPSenderReport(ssrc: ssrc, ntpTime: ntpTime, rtpTimestamp: rtpTimestamp, packetCount: packetCount, octetCount: octetCount)
    }
}
