// H.265 NAL unit types and the sequence parameter set fields that players and
// muxers need: picture size (conformance window applied), the profile, tier
// and level for `hvc1.…`, chroma and bit depth for hvcC.

public enum H265NAL {
    public static let vps: UInt8 = 32
    public static let sps: UInt8 = 33
    public static let pps: UInt8 = 34
    public static let accessUnitDelimiter: UInt8 = 35
    /// RFC 7798 aggregation and fragmentation types.
    public static let aggregationPacket: UInt8 = 48
    public static let fragmentationUnit: UInt8 = 49
    public static let paci: UInt8 = 50

    public static func type(_ nal: [UInt8]) -> UInt8 { nal.isEmpty ? 0 : (nal[0] >> 1) & 0x3F }
    public static func type(_ nal: ArraySlice<UInt8>) -> UInt8 { nal.isEmpty ? 0 : (nal[nal.startIndex] >> 1) & 0x3F }
    public static func isVCL(_ type: UInt8) -> Bool { type < 32 }
    /// Intra random access point pictures (BLA, IDR, CRA and reserved IRAP types).
    public static func isIRAP(_ type: UInt8) -> Bool { type >= 16 && type <= 23 }
}

public struct H265SPS: Sendable, Equatable {
    public var profileSpace: UInt8 = 0
    public var tierFlag: Bool = false
    public var profileIDC: UInt8 = 0
    public var profileCompatibilityFlags: UInt32 = 0
    /// The 48 bits of general constraint indicator flags, right-aligned.
    public var constraintIndicatorFlags: UInt64 = 0
    public var levelIDC: UInt8 = 0
    /// sps_max_sub_layers_minus1 and sps_temporal_id_nesting_flag, which hvcC repeats.
    public var maxSubLayersMinus1: UInt8 = 0
    public var temporalIDNesting = false
    public var chromaFormatIDC: UInt8 = 1
    public var bitDepthLuma: UInt8 = 8
    public var bitDepthChroma: UInt8 = 8
    /// Picture size in pixels after the conformance window.
    public var width = 0
    public var height = 0

    /// `nal` is the whole SPS NAL unit, 2-byte header included.
    public init(nal: [UInt8]) throws(BitstreamError) {
        guard nal.count >= 6 else { throw .truncated }
        guard H265NAL.type(nal) == H265NAL.sps else { throw .wrongNALType }
        var r = BitReader(unescapeRBSP(nal[2...]))
        try r.skip(4)  // sps_video_parameter_set_id
        let maxSubLayersMinus1 = Int(try r.bits(3))
        self.maxSubLayersMinus1 = UInt8(maxSubLayersMinus1)
        temporalIDNesting = try r.flag()
        // profile_tier_level(1, sps_max_sub_layers_minus1), H.265 §7.3.3
        profileSpace = UInt8(try r.bits(2))
        tierFlag = try r.flag()
        profileIDC = UInt8(try r.bits(5))
        profileCompatibilityFlags = try r.bits(32)
        constraintIndicatorFlags = UInt64(try r.bits(16)) << 32 | UInt64(try r.bits(32))
        levelIDC = UInt8(try r.bits(8))
        var subLayerProfilePresent: [Bool] = []
        var subLayerLevelPresent: [Bool] = []
        for _ in 0..<maxSubLayersMinus1 {
            subLayerProfilePresent.append(try r.flag())
            subLayerLevelPresent.append(try r.flag())
        }
        if maxSubLayersMinus1 > 0 { try r.skip(2 * (8 - maxSubLayersMinus1)) }  // reserved_zero_2bits
        for i in 0..<maxSubLayersMinus1 {
            if subLayerProfilePresent[i] { try r.skip(88) }
            if subLayerLevelPresent[i] { try r.skip(8) }
        }
        _ = try r.ue()  // sps_seq_parameter_set_id
        let chroma = try r.ue()
        guard chroma <= 3 else { throw .invalidSyntax }
        chromaFormatIDC = UInt8(chroma)
        var separateColourPlane = false
        if chroma == 3 { separateColourPlane = try r.flag() }
        let lumaWidth = try r.ue(atMost: 16888)
        let lumaHeight = try r.ue(atMost: 16888)
        guard lumaWidth > 0, lumaHeight > 0 else { throw .invalidSyntax }
        var window = (left: 0, right: 0, top: 0, bottom: 0)
        if try r.flag() {  // conformance_window_flag
            window = (try r.ue(atMost: 16888), try r.ue(atMost: 16888), try r.ue(atMost: 16888), try r.ue(atMost: 16888))
        }
        let lumaDepth = try r.ue()
        let chromaDepth = try r.ue()
        guard lumaDepth <= 8, chromaDepth <= 8 else { throw .invalidSyntax }
        bitDepthLuma = UInt8(lumaDepth + 8)
        bitDepthChroma = UInt8(chromaDepth + 8)
        // H.265 Table 6-1: SubWidthC and SubHeightC by ChromaArrayType.
        let chromaArrayType = separateColourPlane ? 0 : chroma
        let subWidth = chromaArrayType == 1 || chromaArrayType == 2 ? 2 : 1
        let subHeight = chromaArrayType == 1 ? 2 : 1
        width = lumaWidth - subWidth * (window.left + window.right)
        height = lumaHeight - subHeight * (window.top + window.bottom)
        guard width > 0, height > 0 else { throw .invalidSyntax }
    }

    /// RFC 6381 / ISO/IEC 14496-15 Annex E codecs parameter, e.g. "hvc1.1.6.L93.B0".
    public var codecString: String {
        var text: [UInt8] = Array("hvc1.".utf8)
        if profileSpace > 0 { text.append(0x40 + profileSpace) }  // 'A', 'B', 'C'
        appendDecimal(UInt32(profileIDC), to: &text)
        text.append(0x2E)
        // The compatibility flags in reverse bit order, in hex.
        var reversed: UInt32 = 0
        for i in 0..<32 where profileCompatibilityFlags & (1 << UInt32(i)) != 0 { reversed |= 1 << UInt32(31 - i) }
        appendHex(reversed, to: &text)
        text.append(0x2E)
        text.append(tierFlag ? 0x48 : 0x4C)  // 'H' or 'L'
        appendDecimal(UInt32(levelIDC), to: &text)
        // Six constraint bytes, trailing zero bytes omitted.
        var bytes: [UInt8] = []
        for i in 0..<6 { bytes.append(UInt8(truncatingIfNeeded: constraintIndicatorFlags >> UInt64(40 - 8 * i))) }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        for byte in bytes {
            text.append(0x2E)
            appendHex(UInt32(byte), to: &text)
        }
        return String(decoding: text, as: UTF8.self)
    }
}
