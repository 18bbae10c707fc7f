// H.264 Annex-B parsing: just enough to turn an elementary-stream file into
// loopable access units plus the parameter sets that RTSP/SDP need.

enum NALType {
    static let nonIDRSlice: UInt8 = 1
    static let idrSlice: UInt8 = 5
    static let sei: UInt8 = 6
    static let sps: UInt8 = 7
    static let pps: UInt8 = 8
    static let accessUnitDelimiter: UInt8 = 9
    static let endOfSequence: UInt8 = 10
    static let endOfStream: UInt8 = 11
    static let filler: UInt8 = 12

    static func of(_ nal: [UInt8]) -> UInt8 { nal.isEmpty ? 0 : nal[0] & 0x1F }
    static func isVCL(_ type: UInt8) -> Bool { type >= 1 && type <= 5 }
}

/// One picture's worth of NAL units, without SPS/PPS (those are re-sent by the
/// streamer before every IDR so a client joining or recovering can decode).
struct AccessUnit: Sendable {
    let nalUnits: [[UInt8]]
    let isIDR: Bool
    var byteCount: Int { nalUnits.reduce(0) { $0 + $1.count } }
}

struct ClipError: Error, CustomStringConvertible {
    let description: String
}

/// Splits an Annex-B byte stream at 3- and 4-byte start codes.
func splitAnnexB(_ data: [UInt8]) -> [[UInt8]] {
    var nals: [[UInt8]] = []
    var nalStart: Int? = nil
    var i = 0
    let n = data.count

    func emit(upTo end: Int) {
        guard let start = nalStart else { return }
        var e = end
        // trailing_zero_8bits and the leading zero of a 4-byte start code belong
        // to the byte stream, not to the NAL unit.
        while e > start && data[e - 1] == 0 { e -= 1 }
        if e > start { nals.append(Array(data[start..<e])) }
    }

    while i + 2 < n {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            emit(upTo: i)
            nalStart = i + 3
            i += 3
        } else {
            i += 1
        }
    }
    emit(upTo: n)
    return nals
}

/// Removes emulation_prevention_three_byte so the bit reader sees the RBSP.
func unescapeRBSP(_ nal: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(nal.count)
    var zeros = 0
    for b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0
            continue
        }
        out.append(b)
        zeros = (b == 0) ? zeros + 1 : 0
    }
    return out
}

struct BitReader {
    private let bytes: [UInt8]
    private var bitPos = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func bit() throws -> UInt32 {
        let byte = bitPos >> 3
        guard byte < bytes.count else { throw ClipError(description: "SPS truncated") }
        let v = (bytes[byte] >> (7 - UInt8(bitPos & 7))) & 1
        bitPos += 1
        return UInt32(v)
    }

    mutating func bits(_ count: Int) throws -> UInt32 {
        var v: UInt64 = 0
        for _ in 0..<count { v = (v << 1) | UInt64(try bit()) }
        return UInt32(truncatingIfNeeded: v)
    }

    mutating func ue() throws -> UInt32 {
        var zeros = 0
        while try bit() == 0 {
            zeros += 1
            if zeros > 31 { throw ClipError(description: "bad Exp-Golomb code in SPS") }
        }
        if zeros == 0 { return 0 }
        return UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(zeros)) - 1 + UInt64(try bits(zeros)))
    }

    mutating func se() throws -> Int32 {
        let k = try ue()
        let magnitude = Int32(truncatingIfNeeded: (UInt64(k) + 1) / 2)
        return k & 1 == 1 ? magnitude : -magnitude
    }
}

/// The SPS fields the simulator cares about: what goes into SDP and the frame
/// rate used for pacing.
struct SPSInfo: Sendable {
    var profileIDC: UInt8 = 0
    var constraintFlags: UInt8 = 0
    var levelIDC: UInt8 = 0
    var width = 0
    var height = 0
    /// Frames per second as a rational (VUI time_scale / (2 * num_units_in_tick)), if signalled.
    var frameRate: (num: UInt64, den: UInt64)? = nil

    var profileLevelID: String {
        [profileIDC, constraintFlags, levelIDC].map { b in
            let h = String(b, radix: 16, uppercase: true)
            return h.count == 1 ? "0" + h : h
        }.joined()
    }

    init(sps nal: [UInt8]) throws {
        guard nal.count >= 4 else { throw ClipError(description: "SPS too short") }
        var r = BitReader(unescapeRBSP(nal[1...]))
        profileIDC = UInt8(try r.bits(8))
        constraintFlags = UInt8(try r.bits(8))
        levelIDC = UInt8(try r.bits(8))
        _ = try r.ue()  // seq_parameter_set_id
        var chromaFormatIDC: UInt32 = 1
        var separateColourPlane = false
        if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(profileIDC) {
            chromaFormatIDC = try r.ue()
            if chromaFormatIDC == 3 { separateColourPlane = try r.bit() == 1 }
            _ = try r.ue()  // bit_depth_luma_minus8
            _ = try r.ue()  // bit_depth_chroma_minus8
            _ = try r.bit()  // qpprime_y_zero_transform_bypass_flag
            if try r.bit() == 1 {  // seq_scaling_matrix_present_flag
                for i in 0..<(chromaFormatIDC != 3 ? 8 : 12) {
                    guard try r.bit() == 1 else { continue }  // seq_scaling_list_present_flag
                    var last: Int32 = 8
                    var next: Int32 = 8
                    for _ in 0..<(i < 6 ? 16 : 64) {
                        if next != 0 { next = (last + (try r.se()) + 256) % 256 }
                        last = next == 0 ? last : next
                    }
                }
            }
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
            guard cycle <= 255 else { throw ClipError(description: "bad SPS poc cycle") }
            for _ in 0..<cycle { _ = try r.se() }
        }
        _ = try r.ue()  // max_num_ref_frames
        _ = try r.bit()  // gaps_in_frame_num_value_allowed_flag
        let widthMBs = Int(try r.ue()) + 1
        let heightMapUnits = Int(try r.ue()) + 1
        let frameMBsOnly = Int(try r.bit())
        if frameMBsOnly == 0 { _ = try r.bit() }
        _ = try r.bit()  // direct_8x8_inference_flag
        var crop = (l: 0, r: 0, t: 0, b: 0)
        if try r.bit() == 1 {
            crop = (Int(try r.ue()), Int(try r.ue()), Int(try r.ue()), Int(try r.ue()))
        }
        let monochrome = chromaFormatIDC == 0 || separateColourPlane
        let cropX = monochrome ? 1 : (chromaFormatIDC == 3 ? 1 : 2)
        let cropY = (monochrome ? 1 : (chromaFormatIDC == 1 ? 2 : 1)) * (2 - frameMBsOnly)
        width = widthMBs * 16 - cropX * (crop.l + crop.r)
        height = (2 - frameMBsOnly) * heightMapUnits * 16 - cropY * (crop.t + crop.b)

        // VUI is optional and parsed best-effort: a clip without timing info
        // simply falls back to the default frame rate.
        guard (try? r.bit()) == 1 else { return }
        do {
            if try r.bit() == 1 {  // aspect_ratio_info_present_flag
                if try r.bits(8) == 255 { _ = try r.bits(32) }
            }
            if try r.bit() == 1 { _ = try r.bit() }  // overscan
            if try r.bit() == 1 {  // video_signal_type_present_flag
                _ = try r.bits(4)
                if try r.bit() == 1 { _ = try r.bits(24) }
            }
            if try r.bit() == 1 {  // chroma_loc_info_present_flag
                _ = try r.ue()
                _ = try r.ue()
            }
            if try r.bit() == 1 {  // timing_info_present_flag
                let unitsInTick = UInt64(try r.bits(32))
                let timeScale = UInt64(try r.bits(32))
                if unitsInTick > 0 && timeScale > 0 {
                    var (a, b) = (timeScale, 2 * unitsInTick)
                    while b != 0 { (a, b) = (b, a % b) }
                    frameRate = (timeScale / a, 2 * unitsInTick / a)
                }
            }
        } catch {
            frameRate = nil
        }
    }
}

/// An Annex-B clip prepared for endless looping.
struct H264Clip: Sendable {
    /// Starts at the first IDR, so wrapping from the end back to index 0 is
    /// always a clean random-access point for the decoder.
    let accessUnits: [AccessUnit]
    let spsList: [[UInt8]]
    let ppsList: [[UInt8]]
    let info: SPSInfo
    /// Used only when the SPS carries no VUI timing.
    static let fallbackFrameRate: (num: UInt64, den: UInt64) = (25, 1)

    var sps: [UInt8] { spsList[0] }
    var pps: [UInt8] { ppsList[0] }
    var idrCount: Int { accessUnits.lazy.filter(\.isIDR).count }

    init(annexB data: [UInt8]) throws {
        let nals = splitAnnexB(data)
        var spsList: [[UInt8]] = []
        var ppsList: [[UInt8]] = []
        var units: [AccessUnit] = []
        var current: [[UInt8]] = []
        var currentHasVCL = false
        var currentIsIDR = false

        func finish() {
            if currentHasVCL { units.append(AccessUnit(nalUnits: current, isIDR: currentIsIDR)) }
            current = []
            currentHasVCL = false
            currentIsIDR = false
        }

        for nal in nals {
            let type = NALType.of(nal)
            // Simplified H.264 7.4.1.2.3 access-unit boundary detection: a new
            // picture starts at a non-VCL prefix NAL or at a slice whose
            // first_mb_in_slice is 0 (ue(v) == 0 is a single '1' bit).
            if currentHasVCL {
                let firstSliceOfPicture = NALType.isVCL(type) && nal.count > 1 && nal[1] & 0x80 != 0
                let prefixNAL = [NALType.sei, NALType.sps, NALType.pps, NALType.accessUnitDelimiter].contains(type)
                    || (14...18).contains(type)
                if firstSliceOfPicture || prefixNAL { finish() }
            }
            switch type {
            case NALType.sps:
                if !spsList.contains(nal) { spsList.append(nal) }
            case NALType.pps:
                if !ppsList.contains(nal) { ppsList.append(nal) }
            case NALType.accessUnitDelimiter, NALType.endOfSequence, NALType.endOfStream, NALType.filler:
                // An in-band end-of-stream would make decoders flush at every loop.
                break
            default:
                current.append(nal)
                if NALType.isVCL(type) {
                    currentHasVCL = true
                    if type == NALType.idrSlice { currentIsIDR = true }
                }
            }
        }
        finish()

        guard !spsList.isEmpty else { throw ClipError(description: "clip has no SPS (is it an Annex-B H.264 stream?)") }
        guard !ppsList.isEmpty else { throw ClipError(description: "clip has no PPS") }
        guard let firstIDR = units.firstIndex(where: \.isIDR) else {
            throw ClipError(description: "clip has no IDR frame, cannot loop it")
        }
        self.accessUnits = Array(units[firstIDR...])
        self.spsList = spsList
        self.ppsList = ppsList
        self.info = try SPSInfo(sps: spsList[0])
    }

    var frameRate: (num: UInt64, den: UInt64) {
        if let fr = info.frameRate {
            let fps = Double(fr.num) / Double(fr.den)
            if fps >= 1 && fps <= 240 { return fr }
        }
        return Self.fallbackFrameRate
    }
}
