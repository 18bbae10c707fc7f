import CamMedia
import Foundation

/// The committed simcam clip: 320x240 H.264, Annex-B.
func loadSimcamClip() throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../ServerStubs/SimCam/Media/clip.h264").standardized
    return [UInt8](try Data(contentsOf: url))
}

let ffmpegPath: String? = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Encodes a short test pattern with ffmpeg into a temporary file and returns
/// its bytes; generated media is never committed.
func generateStream(encoder: String, format: String, size: String, frames: Int) throws -> [UInt8] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cammedia-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out.\(format)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ffmpegPath ?? "/usr/bin/ffmpeg")
    var arguments = ["-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=\(size):rate=25",
                     "-frames:v", "\(frames)", "-pix_fmt", "yuv420p", "-c:v", encoder]
    if encoder == "libx265" { arguments += ["-x265-params", "log-level=error"] }
    process.arguments = arguments + ["-f", format, out.path]
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    return [UInt8](try Data(contentsOf: out))
}

/// An RTP packet as a camera would send it.
func rtp(seq: UInt16, ts: UInt32, marker: Bool = false, pt: UInt8 = 96, ssrc: UInt32 = 0x1234_5678, _ payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    RTPHeader(marker: marker, payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc: ssrc).append(to: &out)
    return out + payload
}

extension H264Depacketizer {
    mutating func feed(_ packets: [[UInt8]]) -> [MediaFrame] {
        var frames: [MediaFrame] = []
        for p in packets { try? push(p, into: &frames) }
        return frames
    }
}

extension H265Depacketizer {
    mutating func feed(_ packets: [[UInt8]]) -> [MediaFrame] {
        var frames: [MediaFrame] = []
        for p in packets { try? push(p, into: &frames) }
        return frames
    }
}

/// Minimal H.264 NAL units with the right types; contents are filler.
enum FakeH264 {
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5, 0x84]
    static let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
    static func idr(_ size: Int, seed: UInt8 = 1) -> [UInt8] { [0x65] + (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) } }
    static func slice(_ size: Int, seed: UInt8 = 2) -> [UInt8] { [0x41] + (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ Int(seed)) } }
}
