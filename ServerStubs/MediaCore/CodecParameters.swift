// What the fMP4 boxes and MSE's codec strings need from a track's codec
// configuration. The SPS fields come from CamMedia's parsers (H264SPS,
// H265SPS); only the AAC AudioSpecificConfig is read here.

/// H.264 profiles whose SPS, and so whose avcC, carry chroma format and bit depths.
let avcProfilesWithChromaFields: Set<UInt8> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

func lowercaseHex(_ value: UInt64, width: Int = 0) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

extension H264SPS {
    /// RFC 6381 §3.3 in the lower case browsers' own examples use: `avc1.42c01e`.
    var mseCodecString: String {
        "avc1." + lowercaseHex(UInt64(profileIDC), width: 2) + lowercaseHex(UInt64(constraintFlags), width: 2)
            + lowercaseHex(UInt64(levelIDC), width: 2)
    }
}

extension H265SPS {
    /// The six general constraint indicator bytes, as hvcC stores them.
    var constraintIndicatorBytes: [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: constraintIndicatorFlags >> UInt64(40 - 8 * $0)) }
    }
}

/// The fields of an AAC AudioSpecificConfig the esds and `mp4a.40.N` need.
struct AACConfigInfo: Equatable {
    var objectType: UInt8
    var sampleRate: UInt32
    var channelConfiguration: UInt8

    static let sampleRates: [UInt32] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    init?(audioSpecificConfig config: [UInt8]) {
        var reader = BitReader(config)
        func read(_ count: Int) -> UInt32? { try? reader.bits(count) }
        guard var type = read(5) else { return nil }
        if type == 31 {
            guard let extended = read(6) else { return nil }
            type = 32 + extended
        }
        guard type != 0, let index = read(4) else { return nil }
        if index == 15 {
            guard let explicit = read(24), explicit > 0 else { return nil }
            sampleRate = UInt32(explicit)
        } else {
            guard Int(index) < Self.sampleRates.count else { return nil }
            sampleRate = Self.sampleRates[Int(index)]
        }
        guard let channels = read(4) else { return nil }
        objectType = UInt8(type)
        channelConfiguration = UInt8(channels)
    }

    /// RFC 6381 §3.3: `mp4a.40.` and the audio object type in decimal.
    var codecString: String { "mp4a.40.\(objectType)" }
}

/// The RFC 6381 codec string MSE wants for one track (`avc1.42c01e`,
/// `hvc1.1.6.L93.B0`, `mp4a.40.2`), or nil when the track's configuration is
/// missing or unparsable, or MP4 cannot carry the codec (G.711).
public func mseCodecString(for track: TrackDescription) -> String? {
    switch track.codec {
    case .h264: (try? H264SPS(nal: track.sps))?.mseCodecString
    case .h265: (try? H265SPS(nal: track.sps))?.codecString
    case .aac: AACConfigInfo(audioSpecificConfig: track.audioConfig)?.codecString
    case .pcmu, .pcma: nil
    }
}
