import CamMedia

/// A stream's AAC audio (from an ADTS file), laid against its video loop so
/// that both loop together: each audio frame belongs to the picture during
/// which it starts, and frames that would run past the end of the video loop
/// are left out (a short gap at the wrap, never an overlap). An audio file
/// shorter than the video leaves silence at the end of each loop.
struct AudioClip: Sendable {
    let frames: [[UInt8]]
    let track: TrackDescription
    /// For each picture of the video loop: the audio frames that start during it.
    let framesByPicture: [Range<Int>]
    /// Each audio frame's start in samples, counted from the start of its picture.
    let offsetInPicture: [UInt32]
    private let pictureRate: (num: UInt64, den: UInt64)

    static let samplesPerFrame: UInt64 = 1024
    static let payloadType: UInt8 = 97

    init(adts: [UInt8], pictures: Int, frameRate: (num: UInt64, den: UInt64)) throws {
        let stream: ADTSStream
        do {
            stream = try ADTSStream(parsing: adts)
        } catch {
            throw ClipError(description: "audio is not an ADTS AAC stream (\(error))")
        }
        guard AACPacketizer.maxFrameBytes >= stream.frames.map(\.count).max() ?? 0 else {
            throw ClipError(description: "audio has a frame larger than RTP's 13-bit AU size")
        }
        frames = stream.frames
        track = TrackDescription(codec: .aac, clockRate: stream.sampleRate, payloadType: Self.payloadType,
                                 audioConfig: stream.audioSpecificConfig, channels: max(1, stream.channels))
        pictureRate = frameRate
        var ranges = [Range<Int>](repeating: 0..<0, count: pictures)
        var offsets: [UInt32] = []
        let loopSamples = Self.samples(atPicture: UInt64(pictures), sampleRate: UInt64(stream.sampleRate), frameRate: frameRate)
        var picture = 0
        for index in frames.indices {
            let start = UInt64(index) * Self.samplesPerFrame
            guard start + Self.samplesPerFrame <= loopSamples else { break }
            while Self.samples(atPicture: UInt64(picture + 1), sampleRate: UInt64(stream.sampleRate), frameRate: frameRate) <= start {
                picture += 1
            }
            let pictureStart = Self.samples(atPicture: UInt64(picture), sampleRate: UInt64(stream.sampleRate), frameRate: frameRate)
            ranges[picture] = (ranges[picture].isEmpty ? index : ranges[picture].lowerBound)..<(index + 1)
            offsets.append(UInt32(start - pictureStart))
        }
        framesByPicture = ranges
        offsetInPicture = offsets
    }

    /// The audio clock at the start of picture `n` (exact for rates such as 30000/1001, floored).
    static func samples(atPicture n: UInt64, sampleRate: UInt64, frameRate: (num: UInt64, den: UInt64)) -> UInt64 {
        let (quotient, _) = frameRate.num.dividingFullWidth(n.multipliedFullWidth(by: sampleRate * frameRate.den))
        return quotient
    }

    func samples(atPicture n: UInt64) -> UInt64 {
        Self.samples(atPicture: n, sampleRate: UInt64(track.clockRate), frameRate: pictureRate)
    }
}
