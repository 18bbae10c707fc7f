// Turns CamMedia's tracks and frames into fragmented MP4 for Media Source
// Extensions and for files: one init segment, then one media segment (moof +
// mdat) per call, for one frame or a small group.
//
// Timing. The timescale of each track is its RTP clock rate (90000 for video),
// and a frame's decode time is its unwrapped timestamp minus the track's first,
// so every viewer's timeline starts at 0. A sample's duration is the distance to
// the next frame, which a live muxer does not know yet: inside a group it is the
// real distance; the last frame of a call gets the previous frame's distance
// (before any, 1/25 s for video; AAC frames are always 1024 samples). The next
// call's tfdt carries the true time, so a wrong guess never accumulates.
// A timestamp that goes backwards or jumps by more than 10 s (a camera restart)
// continues the timeline where the previous frame ended instead.
// Frames are written in decode order with decode time = presentation time: no
// composition offsets, as cameras' baseline and main streams have no B-frames.

public enum FMP4Error: Error, Equatable, Sendable {
    /// G.711 (and anything else MP4 cannot carry for MSE): leave the track out.
    case unsupportedCodec(MediaCodec)
    /// The video track has no usable SPS/PPS (and VPS for H.265) yet.
    case missingParameterSets(MediaCodec)
    /// The AAC track has no parsable AudioSpecificConfig.
    case missingAudioConfig
    case noTracks
    /// A frame names a track the muxer was not built with.
    case unknownTrack(Int)
    /// Clock rate 0 cannot be a timescale.
    case invalidClockRate(UInt32)
    /// One segment larger than its 32-bit offsets allow.
    case segmentTooLarge
    /// A segment needs at least one frame.
    case noFrames
}

/// One media segment and whether a player may start (or resume after dropping) at it.
public struct FMP4MediaSegment: Sendable {
    public var bytes: [UInt8]
    /// True when the segment's first video sample is a keyframe; for a muxer without
    /// video, always. Audio-only segments of an audio+video muxer are false, so that a
    /// player skipping to a keyframe does not resume on them.
    public var isRandomAccessPoint: Bool
}

public struct FMP4Muxer: Sendable {
    /// A track to mux and the `MediaFrame.track` value its frames carry.
    public struct Track: Sendable {
        public var description: TrackDescription
        public var frameTrack: Int

        public init(_ description: TrackDescription, frameTrack: Int) {
            self.description = description
            self.frameTrack = frameTrack
        }
    }

    private struct TrackState: Sendable {
        var frameTrack: Int
        var isVideo: Bool
        var clockRate: UInt32
        var fixedDuration: UInt32?
        var defaultDuration: UInt32
        var origin: Int64?
        var lastTimestamp: Int64 = 0
        var lastDecodeTime: UInt64 = 0
        var lastDuration: UInt32
    }

    /// `ftyp` + `moov`; send it before any media segment, and again after a new muxer.
    public let initSegment: [UInt8]
    /// The RFC 6381 codecs parameter: `avc1.42c01e`, `hvc1.1.6.L93.B0`, `avc1.4d401f,mp4a.40.2`.
    public let codecs: String
    /// The first video track's size (0 while unknown).
    public let width: Int
    public let height: Int
    /// Sequence number the next media segment gets (mfhd); starts at 1.
    public private(set) var sequenceNumber: UInt32 = 1
    private var states: [TrackState]
    private let hasVideo: Bool

    /// MSE's type string for `MediaSource.isTypeSupported` and `addSourceBuffer`.
    public var mimeType: String { "video/mp4; codecs=\"\(codecs)\"" }

    public static func canMux(_ codec: MediaCodec) -> Bool { codec == .h264 || codec == .h265 || codec == .aac }

    /// Muxes exactly these tracks, in this order (track IDs 1, 2, ...); throws for
    /// a codec MP4 cannot carry (G.711) or a track without its configuration.
    public init(tracks: [Track]) throws(FMP4Error) {
        guard !tracks.isEmpty else { throw .noTracks }
        var entries: [FMP4TrackEntry] = []
        var states: [TrackState] = []
        for (index, track) in tracks.enumerated() {
            let description = track.description
            guard description.clockRate > 0 else { throw .invalidClockRate(description.clockRate) }
            let configuration: FMP4TrackEntry.Configuration
            var fixedDuration: UInt32?
            switch description.codec {
            case .h264:
                guard !description.pps.isEmpty, description.sps.count <= 0xFFFF, description.pps.count <= 0xFFFF,
                      let info = try? H264SPS(nal: description.sps) else { throw .missingParameterSets(.h264) }
                configuration = .avc(info)
            case .h265:
                guard !description.vps.isEmpty, !description.pps.isEmpty, description.vps.count <= 0xFFFF,
                      description.sps.count <= 0xFFFF, description.pps.count <= 0xFFFF,
                      let info = try? H265SPS(nal: description.sps) else { throw .missingParameterSets(.h265) }
                configuration = .hevc(info)
            case .aac:
                guard description.audioConfig.count < 0x70,
                      let info = AACConfigInfo(audioSpecificConfig: description.audioConfig) else { throw .missingAudioConfig }
                configuration = .aac(info)
                fixedDuration = UInt32(clamping: 1024 * UInt64(description.clockRate) / UInt64(info.sampleRate))
            case .pcmu, .pcma:
                throw .unsupportedCodec(description.codec)
            }
            entries.append(FMP4TrackEntry(trackID: UInt32(index + 1), description: description, configuration: configuration))
            let defaultDuration = fixedDuration ?? max(1, description.clockRate / 25)
            states.append(TrackState(frameTrack: track.frameTrack, isVideo: description.codec.isVideo, clockRate: description.clockRate,
                                     fixedDuration: fixedDuration, defaultDuration: defaultDuration, lastDuration: defaultDuration))
        }
        initSegment = FMP4InitSegment.write(entries)
        codecs = entries.map(\.codecString).joined(separator: ",")
        let video = entries.first { $0.isVideo }
        width = video?.width ?? 0
        height = video?.height ?? 0
        hasVideo = video != nil
        self.states = states
    }

    /// A session's tracks in SDP order, with frames numbered by that order: the
    /// tracks MP4 cannot carry are left out and named in `leftOut`.
    public static func forSession(_ tracks: [TrackDescription]) throws(FMP4Error) -> (muxer: FMP4Muxer, leftOut: [Int]) {
        var kept: [Track] = []
        var leftOut: [Int] = []
        for (index, track) in tracks.enumerated() {
            if canMux(track.codec) { kept.append(Track(track, frameTrack: index)) } else { leftOut.append(index) }
        }
        return (try FMP4Muxer(tracks: kept), leftOut)
    }

    /// One media segment holding `frames` (in arrival order; tracks may mix).
    public mutating func segment(_ frames: [MediaFrame]) throws(FMP4Error) -> FMP4MediaSegment {
        guard !frames.isEmpty else { throw .noFrames }
        var runs: [Int: FMP4TrackRun] = [:]
        var order: [Int] = []
        var lastSampleTime: [Int: UInt64] = [:]  // per track: decode time of the run's last sample, whose duration waits for the next frame
        var firstVideoIsSync: Bool?
        var total = 0
        for frame in frames {
            guard let index = states.firstIndex(where: { $0.frameTrack == frame.track }) else { throw .unknownTrack(frame.track) }
            total += frame.payload.count
            guard total < 0x7000_0000 else { throw .segmentTooLarge }
            let decodeTime = decodeTime(of: frame, track: index)
            if let previous = lastSampleTime[index], states[index].fixedDuration == nil {
                runs[index]!.samples[runs[index]!.samples.count - 1].duration = UInt32(clamping: decodeTime - previous)
            }
            let isVideo = states[index].isVideo
            let isSync = isVideo ? frame.isKeyframe : true
            if isVideo && firstVideoIsSync == nil { firstVideoIsSync = isSync }
            let sample = FMP4TrackRun.Sample(size: UInt32(frame.payload.count), duration: states[index].lastDuration, isSync: isSync)
            if runs[index] == nil {
                runs[index] = FMP4TrackRun(trackID: UInt32(index + 1), baseMediaDecodeTime: decodeTime)
                order.append(index)
            }
            runs[index]!.samples.append(sample)
            runs[index]!.data.append(frame.payload)
            lastSampleTime[index] = decodeTime
        }
        let bytes = FMP4Fragment.write(sequenceNumber: sequenceNumber, runs: order.map { runs[$0]! })
        sequenceNumber &+= 1
        return FMP4MediaSegment(bytes: bytes, isRandomAccessPoint: hasVideo ? firstVideoIsSync ?? false : true)
    }

    public mutating func segment(_ frame: MediaFrame) throws(FMP4Error) -> FMP4MediaSegment {
        try segment([frame])
    }

    /// Advances the track's clock to `frame` and answers its decode time.
    private mutating func decodeTime(of frame: MediaFrame, track index: Int) -> UInt64 {
        var state = states[index]
        defer { states[index] = state }
        guard let origin = state.origin else {
            state.origin = frame.timestamp
            state.lastTimestamp = frame.timestamp
            state.lastDecodeTime = 0
            return 0
        }
        let delta = frame.timestamp - state.lastTimestamp
        var decodeTime: UInt64
        if delta <= 0 || delta > Int64(state.clockRate) * 10 {
            decodeTime = state.lastDecodeTime + UInt64(state.lastDuration)
            state.origin = frame.timestamp - Int64(decodeTime)
        } else {
            decodeTime = UInt64(frame.timestamp - origin)
            state.lastDuration = state.fixedDuration ?? UInt32(clamping: delta)
        }
        if decodeTime < state.lastDecodeTime { decodeTime = state.lastDecodeTime + 1 }
        state.lastTimestamp = frame.timestamp
        state.lastDecodeTime = decodeTime
        return decodeTime
    }
}
