// The unit every media stage hands to the next: depacketisers produce it, the
// GOP cache and the viewer queues hold it, the fMP4 muxer, the RTSP re-server
// and the frame log (recording) consume it. One shape, so no stage converts.

public enum MediaCodec: UInt8, Sendable {
    case h264 = 1
    case h265 = 2
    /// MPEG-4 AAC carried per RFC 3640 (mpeg4-generic, AAC-hbr).
    case aac = 3
    /// G.711 µ-law (RTP payload type 0) and A-law (8): passed through to RTSP
    /// viewers only; MSE and MP4 cannot carry them.
    case pcmu = 4
    case pcma = 5

    public var isVideo: Bool { self == .h264 || self == .h265 }
}

/// One video access unit or one audio frame.
///
/// Video `payload` is the access unit's NAL units, each prefixed with its length
/// as a 4-byte big-endian integer (the AVCC/HVCC sample format), without start
/// codes. fMP4 and the frame log store exactly this; the RTSP re-server splits it
/// back into NAL units. Audio `payload` is one raw codec frame (no ADTS header).
public struct MediaFrame: Sendable {
    public var codec: MediaCodec
    /// Index of the track in the session description (SDP media order).
    public var track: Int
    /// RTP timestamp in the track's clock rate, unwrapped to 64 bits so that
    /// arithmetic across the 32-bit wrap is plain subtraction.
    public var timestamp: Int64
    public var isKeyframe: Bool
    public var payload: [UInt8]

    public init(codec: MediaCodec, track: Int, timestamp: Int64, isKeyframe: Bool, payload: [UInt8]) {
        self.codec = codec
        self.track = track
        self.timestamp = timestamp
        self.isKeyframe = isKeyframe
        self.payload = payload
    }
}

/// What a viewer output needs to describe one track before the first frame:
/// the codec, the clock, and the codec configuration (parameter sets for video,
/// AudioSpecificConfig for AAC). Built from the SDP, updated from in-band
/// parameter sets.
public struct TrackDescription: Sendable, Equatable {
    public var codec: MediaCodec
    public var clockRate: UInt32
    /// RTP payload type as the camera sent it.
    public var payloadType: UInt8
    /// H.265 only: the VPS NAL unit.
    public var vps: [UInt8]
    /// Video: the SPS NAL unit (no start code).
    public var sps: [UInt8]
    /// Video: the PPS NAL unit (no start code).
    public var pps: [UInt8]
    /// AAC: the AudioSpecificConfig bytes (RFC 3640 `config=` in hex, decoded).
    public var audioConfig: [UInt8]
    /// Audio: channel count from the SDP (1 if absent).
    public var channels: Int
    /// Video: picture size in pixels, from the SPS (0 while unknown).
    public var width: Int
    public var height: Int

    public init(codec: MediaCodec, clockRate: UInt32, payloadType: UInt8,
                vps: [UInt8] = [], sps: [UInt8] = [], pps: [UInt8] = [],
                audioConfig: [UInt8] = [], channels: Int = 1, width: Int = 0, height: Int = 0) {
        self.codec = codec
        self.clockRate = clockRate
        self.payloadType = payloadType
        self.vps = vps
        self.sps = sps
        self.pps = pps
        self.audioConfig = audioConfig
        self.channels = channels
        self.width = width
        self.height = height
    }
}
