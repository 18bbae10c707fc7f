import CamMedia

// An H.264 Annex-B clip as loopable access units plus the parameter sets that
// RTSP/SDP need. Splitting, access-unit grouping and SPS parsing are CamMedia's.

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
    /// Starts at the first IDR, so wrapping from the end back to index 0 is
    /// always a clean random-access point for the decoder.
    let accessUnits: [AccessUnit]
    let spsList: [[UInt8]]
    let ppsList: [[UInt8]]
    let info: H264SPS
    /// Used only when the SPS carries no VUI timing.
    static let fallbackFrameRate: (num: UInt64, den: UInt64) = (25, 1)

    var sps: [UInt8] { spsList[0] }
    var pps: [UInt8] { ppsList[0] }
    var idrCount: Int { accessUnits.lazy.filter(\.isIDR).count }

    init(annexB data: [UInt8]) throws {
        var spsList: [[UInt8]] = []
        var ppsList: [[UInt8]] = []
        var units: [AccessUnit] = []
        for group in groupAccessUnits(splitAnnexB(data), codec: .h264) {
            var nals: [[UInt8]] = []
            var isIDR = false
            for nal in group {
                switch H264NAL.type(nal) {
                case H264NAL.sps:
                    if !spsList.contains(nal) { spsList.append(nal) }
                case H264NAL.pps:
                    if !ppsList.contains(nal) { ppsList.append(nal) }
                case H264NAL.accessUnitDelimiter, H264NAL.endOfSequence, H264NAL.endOfStream, H264NAL.filler:
                    // An in-band end-of-stream would make decoders flush at every loop.
                    break
                case let type:
                    nals.append(nal)
                    if type == H264NAL.idrSlice { isIDR = true }
                }
            }
            units.append(AccessUnit(nalUnits: nals, isIDR: isIDR))
        }

        guard !spsList.isEmpty else { throw ClipError(description: "clip has no SPS (is it an Annex-B H.264 stream?)") }
        guard !ppsList.isEmpty else { throw ClipError(description: "clip has no PPS") }
        guard let firstIDR = units.firstIndex(where: \.isIDR) else {
            throw ClipError(description: "clip has no IDR frame, cannot loop it")
        }
        self.accessUnits = Array(units[firstIDR...])
        self.spsList = spsList
        self.ppsList = ppsList
        do {
            self.info = try H264SPS(nal: spsList[0])
        } catch {
            throw ClipError(description: "clip's SPS cannot be read (\(error))")
        }
    }

    var frameRate: (num: UInt64, den: UInt64) {
        if info.frameRateDenominator > 0 {
            let fps = Double(info.frameRateNumerator) / Double(info.frameRateDenominator)
            if fps >= 1 && fps <= 240 { return (info.frameRateNumerator, info.frameRateDenominator) }
        }
        return Self.fallbackFrameRate
    }
}
