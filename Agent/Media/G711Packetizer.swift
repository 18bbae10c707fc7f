// RFC 3551 PCMU/PCMA sender: one frame of samples per packet, as given.

public struct G711Packetizer: Sendable {
    public var writer: RTPPacketWriter

    /// Payload type 0 for PCMU, 8 for PCMA (the static assignments).
    public init(codec: MediaCodec, ssrc: UInt32, initialSequenceNumber: UInt16) {
        writer = RTPPacketWriter(payloadType: codec == .pcma ? 8 : 0, ssrc: ssrc, initialSequenceNumber: initialSequenceNumber)
    }

    public mutating func packetize(frame: [UInt8], timestamp: UInt32, into packets: inout [[UInt8]]) {
        guard !frame.isEmpty else { return }
        packets.append(writer.packet(marker: false, timestamp: timestamp, prefix: [], data: frame[...]))
    }
}
