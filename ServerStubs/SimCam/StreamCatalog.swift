import CamMedia
import Foundation

/// One stream simcam serves: a looping video clip, maybe with audio, at a path.
struct SimStream: Sendable {
    /// `/` for the default stream (`--clip` or the bundled clip), else e.g. `/main`.
    let path: String
    let clip: H264Clip
    let audio: AudioClip?

    /// Tracks in SDP order: video is track 0 (`trackID=0`), audio track 1.
    var trackCount: Int { audio == nil ? 1 : 2 }
}

/// Which stream a request URL names. Without `--stream`, every path is the
/// default stream, as a camera with a single stream behaves. With `--stream`,
/// paths match exactly (a track's `/trackID=N` may follow), `/` is the default
/// stream, and anything else is unknown (404).
struct StreamCatalog: Sendable {
    let streams: [SimStream]
    let anyPathIsDefault: Bool

    init(defaultStream: SimStream, extra: [SimStream]) {
        // Longest path first, so `/main/hd` is found before `/main`.
        streams = (extra + [defaultStream]).sorted { $0.path.utf8.count > $1.path.utf8.count }
        anyPathIsDefault = extra.isEmpty
    }

    /// The stream and, when the URL names one, the track (`…/trackID=1` → 1).
    func lookup(requestURI uri: String) -> (stream: SimStream, track: Int?)? {
        let path = Self.path(of: uri)
        if anyPathIsDefault, let only = streams.first {
            let last = path.split(separator: "/").last.map(String.init) ?? ""
            return (only, Self.track(inControl: last))
        }
        for stream in streams {
            let base = stream.path == "/" ? "" : stream.path
            guard path == base || path.hasPrefix(base + "/") else { continue }
            var rest = path.dropFirst(base.count)
            if rest.first == "/" { rest = rest.dropFirst() }
            if rest.isEmpty { return (stream, nil) }
            if let track = Self.track(inControl: String(rest)) { return (stream, track) }
        }
        return nil
    }

    /// The path of an absolute `rtsp://host:port/path?query` (or of a bare path), without the query.
    static func path(of uri: String) -> String {
        var rest = Substring(uri)
        if let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        return rest.isEmpty ? "/" : String(rest)
    }

    private static func track(inControl text: String) -> Int? {
        guard text.hasPrefix("trackID="), let number = Int(text.dropFirst(8)), (0...1).contains(number) else { return nil }
        return number
    }

    /// `--stream PATH=VIDEO[,audio=AAC]`: the path, the video file, the audio file.
    static func parseOption(_ text: String) throws -> (path: String, video: String, audio: String?) {
        let usage = "--stream \(text.prefix(80)): expected /PATH=VIDEO_FILE[,audio=ADTS_FILE]"
        guard let equals = text.firstIndex(of: "=") else { throw StartupError(usage) }
        let path = String(text[..<equals])
        let files = text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/"), !path.contains("?"),
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw StartupError("\(usage) (PATH starts with /, is not / itself, has no trailing /, ? or spaces)")
        }
        guard let video = files.first, !video.isEmpty, files.count <= 2 else { throw StartupError(usage) }
        var audio: String?
        if files.count == 2 {
            guard files[1].hasPrefix("audio="), files[1].count > 6 else { throw StartupError(usage) }
            audio = String(files[1].dropFirst(6))
        }
        return (path, video, audio)
    }

    /// A stream from its files: H.265 when the video's name ends .h265 or .hevc.
    static func loadStream(path: String, video: String, audio: String?) throws -> SimStream {
        let clip = try loadClip(bytes: try read(video), named: video)
        var audioClip: AudioClip?
        if let audio {
            do {
                audioClip = try AudioClip(adts: try read(audio), pictures: clip.accessUnits.count, frameRate: clip.frameRate)
            } catch {
                throw StartupError("cannot use audio \(audio): \(error)")
            }
        }
        return SimStream(path: path, clip: clip, audio: audioClip)
    }

    static func loadClip(bytes: [UInt8], named name: String?) throws -> H264Clip {
        do {
            // H.265 elementary streams are named .h265 or .hevc (what ffmpeg's -f hevc writes).
            let hevc = name.map { $0.hasSuffix(".h265") || $0.hasSuffix(".hevc") } ?? false
            return try H264Clip(annexB: bytes, codec: hevc ? .h265 : .h264)
        } catch {
            throw StartupError("cannot use clip \(name ?? "(bundled)"): \(error)")
        }
    }

    private static func read(_ path: String) throws -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw StartupError("cannot read \(path): \(error.localizedDescription)")
        }
    }
}

extension SimStream {
    /// One line for the log: codec, frames, size, rate, and the audio.
    var summary: String {
        let fr = clip.frameRate
        var text = "\(path): \(clip.codec == .h265 ? "H.265" : "H.264"), \(clip.accessUnits.count) frames, \(clip.idrCount) IDR, "
            + "\(clip.width)x\(clip.height) @ "
            + "\(fr.den == 1 ? "\(fr.num)" : String(format: "%.3f", Double(fr.num) / Double(fr.den))) fps, "
            + (clip.profileLevelID.map { "profile-level-id \($0)" } ?? "hvc1")
        if let audio {
            text += "; audio AAC \(audio.track.clockRate) Hz, \(audio.track.channels) ch, \(audio.frames.count) frames"
        }
        return text
    }
}
