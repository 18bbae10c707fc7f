// RFC 3640 AAC-hbr sender: one AU per packet behind a single 16-bit AU header
// (13-bit size, 3-bit index 0); an AU larger than a packet goes in fragments
// that each repeat the header with the full size.

public struct AACPacketizer: Sendable {
    /// The largest AU a 13-bit size field can describe.
    public static let maxFrameBytes = 8191
    public var writer: RTPPacketWriter

    public init(payloadType: UInt8 = 97, ssrc: UInt32, initialSequenceNumber: UInt16, maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        writer = RTPPacketWriter(payloadType: payloadType, ssrc: ssrc, initialSequenceNumber: initialSequenceNumber, maxPayload: maxPayload)
    }

    /// Appends the packets of one raw AAC frame; returns false (and sends
    /// nothing) for an empty frame or one over `maxFrameBytes`.
    @discardableResult
    public mutating func packetize(frame: [UInt8], timestamp: UInt32, into packets: inout [[UInt8]]) -> Bool {
        guard !frame.isEmpty, frame.count <= Self.maxFrameBytes else { return false }
        let header: [UInt8] = [0x00, 0x10, UInt8(frame.count >> 5), UInt8(truncatingIfNeeded: frame.count << 3)]
        let chunk = writer.maxPayload - header.count
        var offset = 0
        while offset < frame.count {
            let end = min(offset + chunk, frame.count)
            // The marker says "this packet ends an AU" (RFC 3640 §3.2.1).
            packets.append(writer.packet(marker: end == frame.count, timestamp: timestamp, prefix: header, data: frame[offset..<end]))
            offset = end
        }
        return true
    }
}
