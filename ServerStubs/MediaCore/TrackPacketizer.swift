// One track's packetiser, whatever its codec: the RTSP re-server turns the
// frames of the single pull back into RTP, with its own SSRC and sequence
// numbers per viewer.

public enum TrackPacketizer: Sendable {
    case h264(H264Packetizer)
    case h265(H265Packetizer)
    case aac(AACPacketizer)
    case g711(G711Packetizer)

    public init(_ description: TrackDescription, ssrc: UInt32) {
        let sequence = UInt16.random(in: .min ... .max)
        switch description.codec {
        case .h264:
            self = .h264(H264Packetizer(payloadType: description.payloadType, ssrc: ssrc, initialSequenceNumber: sequence))
        case .h265:
            self = .h265(H265Packetizer(payloadType: description.payloadType, ssrc: ssrc, initialSequenceNumber: sequence))
        case .aac:
            self = .aac(AACPacketizer(payloadType: description.payloadType, ssrc: ssrc, initialSequenceNumber: sequence))
        case .pcmu, .pcma:
            self = .g711(G711Packetizer(codec: description.codec, ssrc: ssrc, initialSequenceNumber: sequence))
        }
    }

    /// The RTP timestamp is the camera's, so that audio and video stay in step.
    public mutating func packetize(_ frame: MediaFrame, into packets: inout [[UInt8]]) {
        let timestamp = UInt32(truncatingIfNeeded: frame.timestamp)
        switch self {
        case .h264(var p): p.packetize(frame, timestamp: timestamp, into: &packets); self = .h264(p)
        case .h265(var p): p.packetize(frame, timestamp: timestamp, into: &packets); self = .h265(p)
        case .aac(var p): _ = p.packetize(frame: frame.payload, timestamp: timestamp, into: &packets); self = .aac(p)
        case .g711(var p): p.packetize(frame: frame.payload, timestamp: timestamp, into: &packets); self = .g711(p)
        }
    }
}
