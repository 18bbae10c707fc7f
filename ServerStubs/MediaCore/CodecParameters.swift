// The few fields of the codec configuration that the fMP4 sample entries and
// the MSE codec string need: the profile and level of an H.264 SPS, the
// profile_tier_level, chroma format, bit depths and picture size of an H.265
// SPS (ITU-T H.265 §7.3.2.2), and the object type, sample rate and channels of
// an AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
//
// Deliberately minimal and local to MediaCore: CamMedia is gaining a full SPS
// parser in parallel, and these can move onto it once both are merged.

/// Reads an RBSP MSB-first; every read past the end answers nil.
struct BitReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func bits(_ count: Int) -> UInt64? {
        guard count <= 64, position + count <= bytes.count * 8 else { return nil }
        var value: UInt64 = 0
        for _ in 0..<count {
            let bit = (bytes[position >> 3] >> (7 - UInt8(position & 7))) & 1
            value = value << 1 | UInt64(bit)
            position += 1
        }
        return value
    }

    mutating func skip(_ count: Int) -> Bool { bits(count) != nil || count == 0 }

    /// ue(v): Exp-Golomb, bounded to 32 leading zeros.
    mutating func unsignedExpGolomb() -> UInt32? {
        var leadingZeros = 0
        while true {
            guard let bit = bits(1) else { return nil }
            if bit == 1 { break }
            leadingZeros += 1
            if leadingZeros > 31 { return nil }
        }
        guard let rest = bits(leadingZeros) else { return nil }
        return UInt32((UInt64(1) << UInt64(leadingZeros)) - 1 + rest)
    }
}

/// The NAL unit's payload without its header and with the emulation prevention
/// bytes (00 00 03) removed.
func rawByteSequencePayload(_ nalUnit: [UInt8], headerLength: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(nalUnit.count)
    var zeros = 0
    for byte in nalUnit.dropFirst(headerLength) {
        if zeros >= 2 && byte == 3 { zeros = 0; continue }
        zeros = byte == 0 ? zeros + 1 : 0
        out.append(byte)
    }
    return out
}

func lowercaseHex(_ value: UInt64, width: Int = 0) -> String {
    let digits = String(value, radix: 16, uppercase: false)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// The fields of an H.264 SPS that avcC and `avc1.PPCCLL` carry.
struct AVCSequenceInfo: Equatable {
    var profileIndication: UInt8
    var profileCompatibility: UInt8
    var levelIndication: UInt8
    /// Present only for the high profiles, whose avcC carries them.
    var chromaFormat: UInt8 = 1
    var bitDepthLumaMinus8: UInt8 = 0
    var bitDepthChromaMinus8: UInt8 = 0

    static let profilesWithChromaFields: Set<UInt8> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

    init?(sps: [UInt8]) {
        guard sps.count >= 4, sps[0] & 0x1F == 7 else { return nil }
        profileIndication = sps[1]
        profileCompatibility = sps[2]
        levelIndication = sps[3]
        guard Self.profilesWithChromaFields.contains(profileIndication) else { return }
        var reader = BitReader(rawByteSequencePayload(sps, headerLength: 4))
        guard reader.unsignedExpGolomb() != nil, let chroma = reader.unsignedExpGolomb(), chroma <= 3 else { return nil }
        if chroma == 3 { guard reader.skip(1) else { return nil } }
        guard let luma = reader.unsignedExpGolomb(), luma <= 6, let chromaDepth = reader.unsignedExpGolomb(), chromaDepth <= 6 else { return nil }
        chromaFormat = UInt8(chroma)
        bitDepthLumaMinus8 = UInt8(luma)
        bitDepthChromaMinus8 = UInt8(chromaDepth)
    }

    /// RFC 6381 §3.3: `avc1.` and the SPS's profile, constraint and level bytes in hex.
    var codecString: String {
        "avc1." + lowercaseHex(UInt64(profileIndication), width: 2) + lowercaseHex(UInt64(profileCompatibility), width: 2)
            + lowercaseHex(UInt64(levelIndication), width: 2)
    }
}

/// The fields of an H.265 SPS that hvcC and the `hvc1.` codec string carry.
struct HEVCSequenceInfo: Equatable {
    var profileSpace: UInt8
    var tierFlag: Bool
    var profileIdc: UInt8
    var profileCompatibilityFlags: UInt32
    /// general_progressive_source_flag onwards: 48 bits.
    var constraintIndicatorFlags: [UInt8]
    var levelIdc: UInt8
    var maxSubLayersMinus1: UInt8
    var temporalIdNesting: Bool
    var chromaFormat: UInt8
    var bitDepthLumaMinus8: UInt8
    var bitDepthChromaMinus8: UInt8
    /// Picture size after the conformance window's cropping.
    var width: Int
    var height: Int

    init?(sps: [UInt8]) {
        guard sps.count >= 3, (sps[0] >> 1) & 0x3F == 33 else { return nil }
        var reader = BitReader(rawByteSequencePayload(sps, headerLength: 2))
        guard reader.skip(4), let subLayers = reader.bits(3), let nesting = reader.bits(1),
              let space = reader.bits(2), let tier = reader.bits(1), let profile = reader.bits(5),
              let compatibility = reader.bits(32) else { return nil }
        var constraints: [UInt8] = []
        for _ in 0..<6 {
            guard let byte = reader.bits(8) else { return nil }
            constraints.append(UInt8(byte))
        }
        guard let level = reader.bits(8) else { return nil }
        // profile_tier_level's sub-layer part: presence flags, padding to 8 entries, then the present fields.
        var profilePresent: [Bool] = []
        var levelPresent: [Bool] = []
        for _ in 0..<Int(subLayers) {
            guard let p = reader.bits(1), let l = reader.bits(1) else { return nil }
            profilePresent.append(p == 1)
            levelPresent.append(l == 1)
        }
        if subLayers > 0 { guard reader.skip(2 * (8 - Int(subLayers))) else { return nil } }
        for index in 0..<Int(subLayers) {
            if profilePresent[index] { guard reader.skip(88) else { return nil } }
            if levelPresent[index] { guard reader.skip(8) else { return nil } }
        }
        guard reader.unsignedExpGolomb() != nil, let chroma = reader.unsignedExpGolomb(), chroma <= 3 else { return nil }
        var separateColourPlanes = false
        if chroma == 3 {
            guard let flag = reader.bits(1) else { return nil }
            separateColourPlanes = flag == 1
        }
        guard let lumaWidth = reader.unsignedExpGolomb(), let lumaHeight = reader.unsignedExpGolomb(),
              lumaWidth <= 16384, lumaHeight <= 16384, let window = reader.bits(1) else { return nil }
        var cropWidth: UInt32 = 0
        var cropHeight: UInt32 = 0
        if window == 1 {
            guard let left = reader.unsignedExpGolomb(), let right = reader.unsignedExpGolomb(),
                  let top = reader.unsignedExpGolomb(), let bottom = reader.unsignedExpGolomb(),
                  left <= 16384, right <= 16384, top <= 16384, bottom <= 16384 else { return nil }
            // Offsets count in chroma samples (H.265 Table 6-1).
            let arrayType = separateColourPlanes ? 0 : chroma
            let subWidth: UInt32 = arrayType == 1 || arrayType == 2 ? 2 : 1
            let subHeight: UInt32 = arrayType == 1 ? 2 : 1
            cropWidth = (left + right) * subWidth
            cropHeight = (top + bottom) * subHeight
        }
        guard let luma = reader.unsignedExpGolomb(), luma <= 8, let chromaDepth = reader.unsignedExpGolomb(), chromaDepth <= 8,
              cropWidth < lumaWidth, cropHeight < lumaHeight else { return nil }
        profileSpace = UInt8(space)
        tierFlag = tier == 1
        profileIdc = UInt8(profile)
        profileCompatibilityFlags = UInt32(compatibility)
        constraintIndicatorFlags = constraints
        levelIdc = UInt8(level)
        maxSubLayersMinus1 = UInt8(subLayers)
        temporalIdNesting = nesting == 1
        chromaFormat = UInt8(chroma)
        bitDepthLumaMinus8 = UInt8(luma)
        bitDepthChromaMinus8 = UInt8(chromaDepth)
        width = Int(lumaWidth - cropWidth)
        height = Int(lumaHeight - cropHeight)
    }

    /// ISO/IEC 14496-15 Annex E: `hvc1.[A-C]<profile>.<compatibility flags, bit-reversed, hex>.<L|H><level>`
    /// then the constraint bytes in hex, trailing zero bytes left out.
    var codecString: String {
        let space = profileSpace == 0 ? "" : String(UnicodeScalar(UInt8(ascii: "A") + profileSpace - 1))
        var reversed: UInt32 = 0
        for bit in 0..<32 where profileCompatibilityFlags & (1 << UInt32(bit)) != 0 { reversed |= 1 << UInt32(31 - bit) }
        var string = "hvc1.\(space)\(profileIdc).\(lowercaseHex(UInt64(reversed)).uppercased()).\(tierFlag ? "H" : "L")\(levelIdc)"
        var constraints = constraintIndicatorFlags
        while constraints.last == 0 { constraints.removeLast() }
        for byte in constraints { string += "." + lowercaseHex(UInt64(byte)).uppercased() }
        return string
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
        guard var type = reader.bits(5) else { return nil }
        if type == 31 {
            guard let extended = reader.bits(6) else { return nil }
            type = 32 + extended
        }
        guard type != 0, let index = reader.bits(4) else { return nil }
        if index == 15 {
            guard let explicit = reader.bits(24), explicit > 0 else { return nil }
            sampleRate = UInt32(explicit)
        } else {
            guard Int(index) < Self.sampleRates.count else { return nil }
            sampleRate = Self.sampleRates[Int(index)]
        }
        guard let channels = reader.bits(4) else { return nil }
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
    case .h264: AVCSequenceInfo(sps: track.sps)?.codecString
    case .h265: HEVCSequenceInfo(sps: track.sps)?.codecString
    case .aac: AACConfigInfo(audioSpecificConfig: track.audioConfig)?.codecString
    case .pcmu, .pcma: nil
    }
}
