import Foundation
import MediaCore
import Testing

/// The muxer's output judged by real ffprobe and ffmpeg: the committed H.264
/// clip, and H.265 and AAC generated here with ffmpeg (never committed), each
/// muxed one frame per segment (as the live output does) and in small groups.
@Suite(.serialized) struct FMP4PeerTests {
    struct Probe {
        var streams: [[String: Any]]
        func stream(_ type: String) -> [String: Any]? { streams.first { $0["codec_type"] as? String == type } }
    }

    static func mux(_ tracks: [FMP4Muxer.Track], _ frames: [MediaFrame], perSegment: Int, to url: URL) throws {
        var muxer = try FMP4Muxer(tracks: tracks)
        var file = muxer.initSegment
        var index = 0
        while index < frames.count {
            let group = Array(frames[index..<min(frames.count, index + perSegment)])
            file += try muxer.segment(group).bytes
            index += perSegment
        }
        try Data(file).write(to: url)
    }

    static func probe(_ url: URL) throws -> Probe {
        let (status, out, err) = try Tool.run("ffprobe", ["-v", "error", "-count_frames", "-show_entries",
                                                          "stream=codec_type,codec_name,codec_tag_string,width,height,nb_read_frames,sample_rate,channels",
                                                          "-of", "json", url.path])
        #expect(status == 0 && err.isEmpty, "ffprobe: \(err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "ffprobe printed: \(out)")
        return Probe(streams: json["streams"] as? [[String: Any]] ?? [])
    }

    /// Decoding the whole file prints nothing at -v error when every sample is whole.
    static func expectCleanDecode(_ url: URL) throws {
        let (status, _, err) = try Tool.run("ffmpeg", ["-nostdin", "-v", "error", "-i", url.path, "-f", "null", "-"])
        #expect(status == 0 && err.isEmpty, "ffmpeg decode errors: \(err)")
    }

    static func generate(_ arguments: [String], in directory: URL, name: String) throws -> [UInt8] {
        let output = directory.appendingPathComponent(name)
        let (status, _, err) = try Tool.run("ffmpeg", ["-nostdin", "-v", "error", "-y"] + arguments + [output.path], timeout: 120)
        guard status == 0 else { throw BoxError("ffmpeg could not generate \(name): \(err)") }
        return Array(try Data(contentsOf: output))
    }

    @Test(arguments: [1, 5]) func theCommittedH264ClipDecodesFrameForFrame(perSegment: Int) throws {
        let clip = Array(try Data(contentsOf: Tool.repository.appendingPathComponent("ServerStubs/SimCam/Media/clip.h264")))
        // A camera's timestamps start anywhere: begin near the 32-bit wrap, unwrapped.
        let (description, frames) = ElementaryStream.videoFrames(clip, hevc: false, firstTimestamp: 4_294_900_000)
        #expect(frames.count == 100 && frames.filter(\.isKeyframe).count == 4)
        let directory = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("clip.mp4")
        try Self.mux([.init(description, frameTrack: 0)], frames, perSegment: perSegment, to: file)

        let video = try #require(try Self.probe(file).stream("video"))
        #expect(video["codec_name"] as? String == "h264")
        #expect(video["codec_tag_string"] as? String == "avc1")
        #expect(video["width"] as? Int == 320 && video["height"] as? Int == 240)
        #expect(video["nb_read_frames"] as? String == "100")
        try Self.expectCleanDecode(file)
    }

    @Test func anH265StreamDecodesFrameForFrame() throws {
        let directory = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // As cameras encode: 4:2:0, no B-frames, a keyframe every second.
        let stream = try Self.generate(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-frames:v", "60", "-pix_fmt", "yuv420p",
                                        "-c:v", "libx265", "-x265-params", "bframes=0:keyint=25:min-keyint=25:log-level=error", "-f", "hevc"],
                                       in: directory, name: "clip.h265")
        var (description, frames) = ElementaryStream.videoFrames(stream, hevc: true, firstTimestamp: 12345)
        #expect(frames.count == 60 && frames.filter(\.isKeyframe).count == 3)
        description.width = 0  // taken from the SPS
        description.height = 0
        let file = directory.appendingPathComponent("h265.mp4")
        try Self.mux([.init(description, frameTrack: 0)], frames, perSegment: 1, to: file)
        let muxer = try FMP4Muxer(tracks: [.init(description, frameTrack: 0)])
        #expect(muxer.codecs.hasPrefix("hvc1.1.6.L"), "Main profile: \(muxer.codecs)")
        #expect(muxer.width == 320 && muxer.height == 240)

        let video = try #require(try Self.probe(file).stream("video"))
        #expect(video["codec_name"] as? String == "hevc")
        #expect(video["codec_tag_string"] as? String == "hvc1")
        #expect(video["width"] as? Int == 320 && video["height"] as? Int == 240)
        #expect(video["nb_read_frames"] as? String == "60")
        try Self.expectCleanDecode(file)
    }

    @Test func aacFromADTSDecodesFrameForFrame() throws {
        let directory = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let adts = try Self.generate(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2", "-c:a", "aac",
                                      "-b:a", "64k", "-f", "adts"], in: directory, name: "tone.aac")
        let (description, frames) = try #require(ElementaryStream.aacFrames(adts), "not ADTS")
        #expect(frames.count >= 90)
        let file = directory.appendingPathComponent("aac.mp4")
        try Self.mux([.init(description, frameTrack: 0)], frames, perSegment: 1, to: file)
        #expect(try FMP4Muxer(tracks: [.init(description, frameTrack: 0)]).codecs == "mp4a.40.2")

        let audio = try #require(try Self.probe(file).stream("audio"))
        #expect(audio["codec_name"] as? String == "aac")
        #expect(audio["sample_rate"] as? String == "48000")
        #expect(audio["channels"] as? Int == 1)
        #expect(audio["nb_read_frames"] as? String == "\(frames.count)")
        try Self.expectCleanDecode(file)
    }

    @Test func videoAndAudioInterleaveInOneStream() throws {
        let directory = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let clip = Array(try Data(contentsOf: Tool.repository.appendingPathComponent("ServerStubs/SimCam/Media/clip.h264")))
        let (video, videoFrames) = ElementaryStream.videoFrames(clip, hevc: false, track: 0)
        let adts = try Self.generate(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4", "-c:a", "aac",
                                      "-f", "adts"], in: directory, name: "tone.aac")
        let (audio, audioFrames) = try #require(ElementaryStream.aacFrames(adts, track: 1))
        // Arrival order by wall time, as the ingest delivers them.
        let ordered = (videoFrames.map { ($0, Double($0.timestamp) / 90000) } + audioFrames.map { ($0, Double($0.timestamp) / 48000) })
            .sorted { $0.1 < $1.1 }.map(\.0)
        let file = directory.appendingPathComponent("av.mp4")
        try Self.mux([.init(video, frameTrack: 0), .init(audio, frameTrack: 1)], ordered, perSegment: 1, to: file)

        let probe = try Self.probe(file)
        #expect(probe.stream("video")?["nb_read_frames"] as? String == "100")
        #expect(probe.stream("audio")?["nb_read_frames"] as? String == "\(audioFrames.count)")
        try Self.expectCleanDecode(file)
    }
}
