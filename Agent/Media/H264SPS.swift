// H.264 NAL unit types and the sequence parameter set fields that players and
// muxers need: picture size, the profile/level for `avc1.PPCCLL`, chroma and
// bit depth for avcC, and the VUI frame rate.

public enum H264NAL {
    public static let nonIDRSlice: UInt8 = 1
    public static let idrSlice: UInt8 = 5
    public static let sei: UInt8 = 6
    public static let sps: UInt8 = 7
    public static let pps: UInt8 = 8
    public static let accessUnitDelimiter: UInt8 = 9
    public static let endOfSequence: UInt8 = 10
    public static let endOfStream: UInt8 = 11
    public static let filler: UInt8 = 12
    /// RFC 6184 aggregation and fragmentation types.
    public static let stapA: UInt8 = 24
    public static let fuA: UInt8 = 28

    public static func type(_ nal: [UInt8]) -> UInt8 { nal.isEmpty ? 0 : nal[0] & 0x1F }
    public static func type(_ nal: ArraySlice<UInt8>) -> UInt8 { nal.isEmpty ? 0 : nal[nal.startIndex] & 0x1F }
    public static func isVCL(_ type: UInt8) -> Bool { type >= 1 && type <= 5 }
}

public struct H264SPS: Sendable, Equatable {
    public var profileIDC: UInt8 = 0
    /// constraint_set0..5 flags and reserved bits: the "CC" in avc1.PPCCLL.
    public var constraintFlags: UInt8 = 0
    public var levelIDC: UInt8 = 0
    public var chromaFormatIDC: UInt8 = 1
    public var bitDepthLuma: UInt8 = 8
    public var bitDepthChroma: UInt8 = 8
    /// Cropped picture size in pixels.
    public var width = 0
    public var height = 0
    /// VUI time_scale / (2 * num_units_in_tick), if the SPS signals timing.
    public var frameRateNumerator: UInt64 = 0
    public var frameRateDenominator: UInt64 = 0

    /// `nal` is the whole SPS NAL unit, header byte included.
    public init(nal: [UInt8]) throws(BitstreamError) {
        guard nal.count >= 4 else { throw .truncated }
        guard H264NAL.type(nal) == H264NAL.sps else { throw .wrongNALType }
        var r = BitReader(unescapeRBSP(nal[1...]))
        profileIDC = UInt8(try r.bits(8))
        constraintFlags = UInt8(try r.bits(8))
        levelIDC = UInt8(try r.bits(8))
        _ = try r.ue()  // seq_parameter_set_id
        var separateColourPlane = false
        switch profileIDC {
        case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
            let chroma = try r.ue()
            guard chroma <= 3 else { throw .invalidSyntax }
            chromaFormatIDC = UInt8(chroma)
            if chroma == 3 { separateColourPlane = try r.flag() }
            let lumaDepth = try r.ue()
            let chromaDepth = try r.ue()
            guard lumaDepth <= 6, chromaDepth <= 6 else { throw .invalidSyntax }
            bitDepthLuma = UInt8(lumaDepth + 8)
            bitDepthChroma = UInt8(chromaDepth + 8)
            _ = try r.bit()  // qpprime_y_zero_transform_bypass_flag
            if try r.flag() {  // seq_scaling_matrix_present_flag
                for i in 0..<(chroma != 3 ? 8 : 12) {
                    guard try r.flag() else { continue }  // seq_scaling_list_present_flag
                    var last: Int32 = 8
                    var next: Int32 = 8
                    for _ in 0..<(i < 6 ? 16 : 64) {
                        if next != 0 {
                            let delta = try r.se()
                            guard delta >= -128 && delta <= 127 else { throw .invalidSyntax }  // delta_scale's range
                            next = (last + delta + 256) % 256
                        }
                        last = next == 0 ? last : next
                    }
                }
            }
        default:
            break
        }
        _ = try r.ue()  // log2_max_frame_num_minus4
        let pocType = try r.ue()
        if pocType == 0 {
            _ = try r.ue()
        } else if pocType == 1 {
            _ = try r.bit()
            _ = try r.se()
            _ = try r.se()
            let cycle = try r.ue()
            guard cycle <= 255 else { throw .invalidSyntax }
            for _ in 0..<cycle { _ = try r.se() }
        }
        _ = try r.ue()  // max_num_ref_frames
        _ = try r.bit()  // gaps_in_frame_num_value_allowed_flag
        let widthMBs = try r.ue(atMost: 1023) + 1
        let heightMapUnits = try r.ue(atMost: 1023) + 1
        let frameMBsOnly = Int(try r.bit())
        if frameMBsOnly == 0 { _ = try r.bit() }  // mb_adaptive_frame_field_flag
        _ = try r.bit()  // direct_8x8_inference_flag
        var crop = (left: 0, right: 0, top: 0, bottom: 0)
        if try r.flag() {
            crop = (try r.ue(atMost: 8192), try r.ue(atMost: 8192), try r.ue(atMost: 8192), try r.ue(atMost: 8192))
        }
        // H.264 §7.4.2.1.1: crop units depend on ChromaArrayType and field coding.
        let chromaArrayType = separateColourPlane ? 0 : Int(chromaFormatIDC)
        let cropX = chromaArrayType == 0 ? 1 : (chromaArrayType == 3 ? 1 : 2)
        let cropY = (chromaArrayType == 0 ? 1 : (chromaArrayType == 1 ? 2 : 1)) * (2 - frameMBsOnly)
        width = widthMBs * 16 - cropX * (crop.left + crop.right)
        height = (2 - frameMBsOnly) * heightMapUnits * 16 - cropY * (crop.top + crop.bottom)
        guard width > 0, height > 0 else { throw .invalidSyntax }

        // VUI is optional and read best-effort: without timing the frame rate stays 0/0.
        guard (try? r.flag()) == true else { return }
        do throws(BitstreamError) {
            if try r.flag() {  // aspect_ratio_info_present_flag
                if try r.bits(8) == 255 { try r.skip(32) }
            }
            if try r.flag() { try r.skip(1) }  // overscan
            if try r.flag() {  // video_signal_type_present_flag
                try r.skip(4)
                if try r.flag() { try r.skip(24) }
            }
            if try r.flag() {  // chroma_loc_info_present_flag
                _ = try r.ue()
                _ = try r.ue()
            }
            if try r.flag() {  // timing_info_present_flag
                let unitsInTick = UInt64(try r.bits(32))
                let timeScale = UInt64(try r.bits(32))
                if unitsInTick > 0 && timeScale > 0 {
                    var (a, b) = (timeScale, 2 * unitsInTick)
                    while b != 0 { (a, b) = (b, a % b) }
                    frameRateNumerator = timeScale / a
                    frameRateDenominator = 2 * unitsInTick / a
                }
            }
        } catch {
            frameRateNumerator = 0
            frameRateDenominator = 0
        }
    }

    /// profile_idc, constraint flags, level_idc as six hex digits (SDP
    /// profile-level-id, RFC 6184 §8.1).
    public var profileLevelID: String {
        var text: [UInt8] = []
        appendHexByte(profileIDC, to: &text)
        appendHexByte(constraintFlags, to: &text)
        appendHexByte(levelIDC, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// RFC 6381 codecs parameter, e.g. "avc1.42C01E".
    public var codecString: String { "avc1." + profileLevelID }
}

// Text built as ASCII bytes: Character APIs would pull Unicode tables into
// the embedded build.
func appendHexByte(_ byte: UInt8, to text: inout [UInt8]) {
    appendHexDigit(byte >> 4, to: &text)
    appendHexDigit(byte & 0x0F, to: &text)
}

func appendHexDigit(_ nibble: UInt8, to text: inout [UInt8]) {
    text.append(nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10)
}

/// Upper-case hex without leading zeros ("0" for zero).
func appendHex(_ value: UInt32, to text: inout [UInt8]) {
    var started = false
    for shift in stride(from: 28, through: 0, by: -4) {
        let nibble = UInt8(truncatingIfNeeded: value >> UInt32(shift)) & 0x0F
        if nibble != 0 || started || shift == 0 {
            started = true
            appendHexDigit(nibble, to: &text)
        }
    }
}

func appendDecimal(_ value: UInt32, to text: inout [UInt8]) {
    var digits: [UInt8] = []
    var v = value
    repeat {
        digits.append(0x30 + UInt8(v % 10))
        v /= 10
    } while v > 0
    text.append(contentsOf: digits.reversed())
}
