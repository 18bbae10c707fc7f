import NIOCore

/// RFC 6184 packetization (packetization-mode=1) framed for RTSP interleaved
/// transport (RFC 2326 §10.12: '$', channel, 16-bit length, packet).
struct RTPPacketizer {
    static let headerSize = 12
    /// Keeps every packet under a typical 1500-byte MTU, so the same packets
    /// would also be valid if a relay re-sent them over UDP.
    static let defaultMaxPayload = 1400

    let payloadType: UInt8
    let ssrc: UInt32
    let maxPayload: Int
    private(set) var sequenceNumber: UInt16
    /// Counters for RTCP sender reports; they wrap as RFC 3550 allows.
    private(set) var packetCount: UInt32 = 0
    private(set) var octetCount: UInt32 = 0

    init(payloadType: UInt8 = 96, ssrc: UInt32, initialSequenceNumber: UInt16, maxPayload: Int = defaultMaxPayload) {
        precondition(maxPayload > 2, "FU-A needs room for its two header bytes")
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.sequenceNumber = initialSequenceNumber
        self.maxPayload = maxPayload
    }

    /// Appends all packets for one access unit. The marker bit goes on the very
    /// last packet so receivers know the picture is complete (RFC 6184 §5.1).
    mutating func appendAccessUnit(_ nalUnits: [[UInt8]], timestamp: UInt32, channel: UInt8, to out: inout ByteBuffer) {
        for (index, nal) in nalUnits.enumerated() where !nal.isEmpty {
            let lastNAL = index == nalUnits.count - 1
            if nal.count <= maxPayload {
                appendPacket(channel: channel, marker: lastNAL, timestamp: timestamp, to: &out) { buf in
                    buf.writeBytes(nal)
                }
            } else {
                appendFUA(nal, lastNAL: lastNAL, timestamp: timestamp, channel: channel, to: &out)
            }
        }
    }

    private mutating func appendFUA(_ nal: [UInt8], lastNAL: Bool, timestamp: UInt32, channel: UInt8, to out: inout ByteBuffer) {
        let header = nal[0]
        // The FU indicator keeps F and NRI from the original header so that
        // intermediate nodes can still judge the fragment's importance.
        let indicator = (header & 0xE0) | 28
        let chunk = maxPayload - 2
        var offset = 1  // the original NAL header is rebuilt from indicator + FU header
        while offset < nal.count {
            let end = min(offset + chunk, nal.count)
            let first = offset == 1
            let last = end == nal.count
            let fuHeader = (first ? 0x80 : 0) | (last ? 0x40 : 0) | (header & 0x1F)
            appendPacket(channel: channel, marker: lastNAL && last, timestamp: timestamp, to: &out) { buf in
                buf.writeInteger(indicator)
                buf.writeInteger(UInt8(fuHeader))
                buf.writeBytes(nal[offset..<end])
            }
            offset = end
        }
    }

    private mutating func appendPacket(
        channel: UInt8, marker: Bool, timestamp: UInt32, to out: inout ByteBuffer,
        payload: (inout ByteBuffer) -> Void
    ) {
        out.writeInteger(UInt8(ascii: "$"))
        out.writeInteger(channel)
        let lengthIndex = out.writerIndex
        out.writeInteger(UInt16(0))  // patched below once the payload size is known
        let packetStart = out.writerIndex
        out.writeInteger(UInt8(0x80))  // V=2, no padding, no extension, CC=0
        out.writeInteger((marker ? 0x80 : 0) | (payloadType & 0x7F))
        out.writeInteger(sequenceNumber)
        out.writeInteger(timestamp)
        out.writeInteger(ssrc)
        payload(&out)
        let packetLength = out.writerIndex - packetStart
        out.setInteger(UInt16(packetLength), at: lengthIndex)

        sequenceNumber &+= 1
        packetCount &+= 1
        octetCount &+= UInt32(truncatingIfNeeded: packetLength - Self.headerSize)
    }
}

/// RTCP sender report + SDES CNAME (RFC 3550 §6.4.1, §6.5). Clients use the
/// SR to map RTP time to wall-clock time; RFC 3550 requires the CNAME in every
/// compound packet.
func appendRTCPSenderReport(
    ssrc: UInt32, ntpTime: (seconds: UInt32, fraction: UInt32), rtpTimestamp: UInt32,
    packetCount: UInt32, octetCount: UInt32, cname: String, channel: UInt8, to out: inout ByteBuffer
) {
    let cnameBytes = Array(cname.utf8.prefix(255))
    // SDES chunk: SSRC, CNAME item (type, length, text), END item, pad to 32 bits.
    let chunkUnpadded = 4 + 2 + cnameBytes.count + 1
    let chunkLength = (chunkUnpadded + 3) & ~3
    let sdesLength = 4 + chunkLength
    let srLength = 28

    out.writeInteger(UInt8(ascii: "$"))
    out.writeInteger(channel)
    out.writeInteger(UInt16(srLength + sdesLength))

    out.writeInteger(UInt8(0x80))  // V=2, RC=0
    out.writeInteger(UInt8(200))  // SR
    out.writeInteger(UInt16(srLength / 4 - 1))
    out.writeInteger(ssrc)
    out.writeInteger(ntpTime.seconds)
    out.writeInteger(ntpTime.fraction)
    out.writeInteger(rtpTimestamp)
    out.writeInteger(packetCount)
    out.writeInteger(octetCount)

    out.writeInteger(UInt8(0x81))  // V=2, SC=1
    out.writeInteger(UInt8(202))  // SDES
    out.writeInteger(UInt16(sdesLength / 4 - 1))
    out.writeInteger(ssrc)
    out.writeInteger(UInt8(1))  // CNAME
    out.writeInteger(UInt8(cnameBytes.count))
    out.writeBytes(cnameBytes)
    out.writeRepeatingByte(0, count: chunkLength - (4 + 2 + cnameBytes.count))  // END + padding
}
