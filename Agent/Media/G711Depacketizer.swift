// RFC 3551 PCMU (payload type 0) and PCMA (8): every packet is one frame of
// 8-bit samples, passed through as it came.

public struct G711Depacketizer: Sendable {
    var receiver = RTPReceiver()
    let codec: MediaCodec
    let track: Int

    /// `codec` is .pcmu or .pcma.
    public init(codec: MediaCodec, track: Int = 0) {
        self.codec = codec
        self.track = track
    }

    public var stats: DepacketizerStats { receiver.stats }
    public var sequence: RTPSequenceTracker { receiver.sequence }
    public var ssrc: UInt32? { receiver.ssrc }

    public mutating func push(_ bytes: [UInt8], into frames: inout [MediaFrame]) throws(RTPError) {
        guard let received = try receiver.receive(bytes) else { return }
        guard !received.packet.payload.isEmpty else {
            receiver.stats.malformedPackets += 1
            throw .truncatedPayload
        }
        frames.append(MediaFrame(codec: codec, track: track, timestamp: received.timestamp, isKeyframe: true,
                                 payload: Array(received.packet.payload)))
    }
}
