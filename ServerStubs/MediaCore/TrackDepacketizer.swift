// One track's depacketiser, whatever its codec: the ingest feeds every RTP
// packet of an interleaved channel here and gets whole frames out.

public enum TrackDepacketizer: Sendable {
    case h264(H264Depacketizer)
    case h265(H265Depacketizer)
    case aac(AACDepacketizer)
    case g711(G711Depacketizer)

    /// A depacketiser for `description`, primed with its SDP parameter sets;
    /// `track` is the index frames carry.
    public init(_ description: TrackDescription, track: Int) {
        switch description.codec {
        case .h264:
            self = .h264(H264Depacketizer(track: track, sps: description.sps, pps: description.pps))
        case .h265:
            self = .h265(H265Depacketizer(track: track, vps: description.vps, sps: description.sps, pps: description.pps))
        case .aac:
            self = .aac(AACDepacketizer(track: track))
        case .pcmu, .pcma:
            self = .g711(G711Depacketizer(codec: description.codec, track: track))
        }
    }

    /// Takes the depacketiser out of `self` while it works, so that its
    /// buffers stay uniquely referenced and are not copied on every packet.
    public mutating func push(_ packet: [UInt8], into frames: inout [MediaFrame]) throws(RTPError) {
        switch self {
        case .h264(var d):
            self = .vacant
            defer { self = .h264(d) }
            try d.push(packet, into: &frames)
        case .h265(var d):
            self = .vacant
            defer { self = .h265(d) }
            try d.push(packet, into: &frames)
        case .aac(var d):
            self = .vacant
            defer { self = .aac(d) }
            try d.push(packet, into: &frames)
        case .g711(var d):
            self = .vacant
            defer { self = .g711(d) }
            try d.push(packet, into: &frames)
        }
    }

    private static var vacant: TrackDepacketizer { .g711(G711Depacketizer(codec: .pcmu)) }

    /// Parameter sets changed in band since the last call: the description with them.
    public func updated(_ description: TrackDescription) -> TrackDescription {
        var copy = description
        switch self {
        case .h264(let d): d.update(&copy)
        case .h265(let d): d.update(&copy)
        case .aac, .g711: break
        }
        return copy
    }

    /// Moves when in-band parameter sets change (always 0 for audio), so that
    /// `updated` (an SPS parse) runs only then, not for every frame.
    public var parameterSetsVersion: Int {
        switch self {
        case .h264(let d): return d.parameterSetsVersion
        case .h265(let d): return d.parameterSetsVersion
        case .aac, .g711: return 0
        }
    }

    public var stats: DepacketizerStats {
        switch self {
        case .h264(let d): return d.stats
        case .h265(let d): return d.stats
        case .aac(let d): return d.stats
        case .g711(let d): return d.stats
        }
    }
}
