import CamMedia

// An H.264 or H.265 Annex-B clip as loopable access units plus the parameter
// sets that RTSP/SDP need. Splitting, access-unit grouping and SPS parsing are
// CamMedia's.

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

/// An Annex-B clip prepared for endless looping.
struct H264Clip: Sendable {
    /// `.h264` or `.h265`.
    let codec: MediaCodec
    /// Starts at the first IDR, so wrapping from the end back to index 0 is
    /// always a clean random-access point for the decoder.
    let accessUnits: [AccessUnit]
    /// H.265 only.
    let vpsList: [[UInt8]]
    let spsList: [[UInt8]]
    let ppsList: [[UInt8]]
    let width: Int
    let height: Int
    /// SDP profile-level-id (H.264 only).
    let profileLevelID: String?
    private let timing: (num: UInt64, den: UInt64)
    /// Used only when the SPS carries no VUI timing.
    static let fallbackFrameRate: (num: UInt64, den: UInt64) = (25, 1)

    var vps: [UInt8] { vpsList.first ?? [] }
    var sps: [UInt8] { spsList[0] }
    var pps: [UInt8] { ppsList[0] }
    /// Every parameter set, in the order a decoder needs them before a keyframe.
    var parameterSets: [[UInt8]] { vpsList + spsList + ppsList }
    var idrCount: Int { accessUnits.lazy.filter(\.isIDR).count }

    init(annexB data: [UInt8], codec: MediaCodec = .h264) throws {
        var vpsList: [[UInt8]] = []
        var spsList: [[UInt8]] = []
        var ppsList: [[UInt8]] = []
        var units: [AccessUnit] = []
        let hevc = codec == .h265
        for group in groupAccessUnits(splitAnnexB(data), codec: codec) {
            var nals: [[UInt8]] = []
            var isIDR = false
            for nal in group {
                let type = hevc ? H265NAL.type(nal) : H264NAL.type(nal)
                switch (hevc, type) {
                case (true, H265NAL.vps):
                    if !vpsList.contains(nal) { vpsList.append(nal) }
                case (true, H265NAL.sps), (false, H264NAL.sps):
                    if !spsList.contains(nal) { spsList.append(nal) }
                case (true, H265NAL.pps), (false, H264NAL.pps):
                    if !ppsList.contains(nal) { ppsList.append(nal) }
                case (false, H264NAL.accessUnitDelimiter), (false, H264NAL.endOfSequence),
                     (false, H264NAL.endOfStream), (false, H264NAL.filler), (true, 35...38):
                    // Delimiters, end of sequence/stream, filler: an in-band
                    // end-of-stream would make decoders flush at every loop.
                    break
                default:
                    nals.append(nal)
                    if hevc ? (16...23).contains(type) : type == H264NAL.idrSlice { isIDR = true }
                }
            }
            units.append(AccessUnit(nalUnits: nals, isIDR: isIDR))
        }
        guard !hevc || !vpsList.isEmpty else { throw ClipError(description: "clip has no VPS (is it an Annex-B H.265 stream?)") }

        guard !spsList.isEmpty else { throw ClipError(description: "clip has no SPS (is it an Annex-B H.264 stream?)") }
        guard !ppsList.isEmpty else { throw ClipError(description: "clip has no PPS") }
        guard let firstIDR = units.firstIndex(where: \.isIDR) else {
            throw ClipError(description: "clip has no IDR frame, cannot loop it")
        }
        self.codec = codec
        self.accessUnits = Array(units[firstIDR...])
        self.vpsList = vpsList
        self.spsList = spsList
        self.ppsList = ppsList
        do {
            if hevc {
                let info = try H265SPS(nal: spsList[0])
                (width, height, profileLevelID, timing) = (info.width, info.height, nil, (0, 0))
            } else {
                let info = try H264SPS(nal: spsList[0])
                (width, height, profileLevelID) = (info.width, info.height, info.profileLevelID)
                timing = (info.frameRateNumerator, info.frameRateDenominator)
            }
        } catch {
            throw ClipError(description: "clip's SPS cannot be read (\(error))")
        }
    }

    var frameRate: (num: UInt64, den: UInt64) {
        if timing.den > 0 {
            let fps = Double(timing.num) / Double(timing.den)
            if fps >= 1 && fps <= 240 { return timing }
        }
        return Self.fallbackFrameRate
    }
}
