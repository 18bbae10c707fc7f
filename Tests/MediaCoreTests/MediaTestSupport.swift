import Foundation
import MediaCore

/// Elementary streams as a camera's depacketiser would hand them over: Annex-B
/// split at start codes, NAL units grouped into access units, each access unit
/// turned into one length-prefixed MediaFrame. Test-only; CamMedia's own
/// splitter replaces this once both land.
enum ElementaryStream {
    struct AccessUnit {
        var nalUnits: [[UInt8]] = []
        var isKeyframe = false
        var hasPicture = false

        var lengthPrefixed: [UInt8] {
            var out: [UInt8] = []
            for unit in nalUnits {
                let n = UInt32(unit.count)
                out += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
                out += unit
            }
            return out
        }
    }

    /// A picture starts at a slice whose first_mb_in_slice (H.264) or
    /// first_slice_segment_in_pic_flag (H.265) says so; parameter sets, SEI and
    /// delimiters after a picture start the next access unit.
    static func accessUnits(_ units: [[UInt8]], hevc: Bool) -> [AccessUnit] {
        var result: [AccessUnit] = []
        var current = AccessUnit()
        for unit in units where unit.count > (hevc ? 2 : 1) {
            let type = hevc ? (unit[0] >> 1) & 0x3F : unit[0] & 0x1F
            let isPicture = hevc ? type < 32 : (type >= 1 && type <= 5)
            let startsPicture = isPicture && (unit[hevc ? 2 : 1] & 0x80) != 0
            let startsUnit = hevc ? (32...39).contains(type) : (6...9).contains(type) || (14...18).contains(type)
            if current.hasPicture && (startsPicture || startsUnit) {
                result.append(current)
                current = AccessUnit()
            }
            current.nalUnits.append(unit)
            if isPicture {
                current.hasPicture = true
                if hevc ? (16...23).contains(type) : type == 5 { current.isKeyframe = true }
            }
        }
        if current.hasPicture { result.append(current) }
        return result
    }

    static func parameterSet(_ units: [[UInt8]], hevc: Bool, type: UInt8) -> [UInt8] {
        units.first { !$0.isEmpty && (hevc ? ($0[0] >> 1) & 0x3F : $0[0] & 0x1F) == type } ?? []
    }

    /// Video frames at 25 fps on a 90 kHz clock, starting at `firstTimestamp`.
    static func videoFrames(_ data: [UInt8], hevc: Bool, firstTimestamp: Int64 = 0, track: Int = 0) -> (TrackDescription, [MediaFrame]) {
        let units = splitAnnexB(data)
        let codec: MediaCodec = hevc ? .h265 : .h264
        let description = TrackDescription(
            codec: codec, clockRate: 90000, payloadType: 96,
            vps: hevc ? parameterSet(units, hevc: true, type: 32) : [],
            sps: parameterSet(units, hevc: hevc, type: hevc ? 33 : 7),
            pps: parameterSet(units, hevc: hevc, type: hevc ? 34 : 8),
            width: 320, height: 240)
        let frames = accessUnits(units, hevc: hevc).enumerated().map { index, unit in
            MediaFrame(codec: codec, track: track, timestamp: firstTimestamp + Int64(index) * 3600,
                       isKeyframe: unit.isKeyframe, payload: unit.lengthPrefixed)
        }
        return (description, frames)
    }

    /// ADTS stripped to raw AAC frames (CamMedia's ADTSStream), and the
    /// AudioSpecificConfig its headers imply.
    static func aacFrames(_ adts: [UInt8], track: Int = 0) -> (TrackDescription, [MediaFrame])? {
        guard let stream = try? ADTSStream(parsing: adts) else { return nil }
        let frames = stream.frames.enumerated().map { index, payload in
            MediaFrame(codec: .aac, track: track, timestamp: Int64(index) * 1024, isKeyframe: true, payload: payload)
        }
        return (TrackDescription(codec: .aac, clockRate: stream.sampleRate, payloadType: 97,
                                 audioConfig: stream.audioSpecificConfig, channels: stream.channels), frames)
    }
}

/// A minimal ISO-BMFF reader: the tests check the muxer's nesting and sizes
/// with it, so it insists every size adds up exactly.
struct ParsedBox {
    var type: String
    /// Offset of the box's first byte in the buffer it was read from.
    var offset: Int
    var size: Int
    var body: [UInt8]
    var children: [ParsedBox] = []

    static let containers: Set<String> = ["moov", "trak", "mdia", "minf", "dinf", "stbl", "mvex", "moof", "traf"]

    static func parse(_ bytes: [UInt8], base: Int = 0) throws -> [ParsedBox] {
        var boxes: [ParsedBox] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + 8 <= bytes.count else { throw BoxError("truncated header at \(base + offset)") }
            let size = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard size >= 8, offset + size <= bytes.count else { throw BoxError("bad size \(size) at \(base + offset)") }
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            var box = ParsedBox(type: type, offset: base + offset, size: size, body: Array(bytes[(offset + 8)..<(offset + size)]))
            if containers.contains(type) { box.children = try parse(box.body, base: base + offset + 8) }
            boxes.append(box)
            offset += size
        }
        return boxes
    }

    func child(_ path: String) -> ParsedBox? {
        var box: ParsedBox? = self
        for name in path.split(separator: "/") { box = box?.children.first { $0.type == name } }
        return box
    }

    func u32(at index: Int) -> UInt32 {
        UInt32(body[index]) << 24 | UInt32(body[index + 1]) << 16 | UInt32(body[index + 2]) << 8 | UInt32(body[index + 3])
    }

    func u64(at index: Int) -> UInt64 { UInt64(u32(at: index)) << 32 | UInt64(u32(at: index + 4)) }
}

struct BoxError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// ffmpeg and ffprobe, run with a deadline.
enum Tool {
    static func path(_ name: String) -> String? {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }

    static func run(_ name: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> (status: Int32, out: String, err: String) {
        guard let executable = path(name) else { throw BoxError("\(name) is not installed (apt-get install ffmpeg)") }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw BoxError("\(name) did not finish within \(Int(timeout)) s")
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fmp4-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
