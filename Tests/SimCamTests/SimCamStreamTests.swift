import CamMedia
import Foundation
import Testing
@testable import camagent_simcam

/// simcam's stream catalogue (which path is which stream) and its audio
/// schedule (audio frames laid against the video loop).
@Suite struct SimCamStreamTests {
    /// A 48 kHz mono ADTS stream of `count` frames, each `size` bytes of payload.
    static func adts(frames count: Int, size: Int = 10) -> [UInt8] {
        let length = size + 7
        let header: [UInt8] = [0xFF, 0xF1, 1 << 6 | 3 << 2, 1 << 6 | UInt8(length >> 11),
                               UInt8(truncatingIfNeeded: length >> 3), UInt8(truncatingIfNeeded: length << 5) | 0x1F, 0xFC]
        return (0..<count).flatMap { index in header + [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size) }
    }

    @Test func audioFramesBelongToThePictureTheyStartInAndNeverOverrunTheLoop() throws {
        // 250 pictures at 25 fps = 10 s = 480,000 samples: frame 467 ends at 479,232, frame 468 would end past the loop.
        let audio = try AudioClip(adts: Self.adts(frames: 470), pictures: 250, frameRate: (25, 1))
        #expect(audio.track.codec == .aac && audio.track.clockRate == 48000 && audio.track.audioConfig == [0x11, 0x88])
        #expect(audio.framesByPicture.count == 250)
        let scheduled = audio.framesByPicture.flatMap { Array($0) }
        #expect(scheduled == Array(0..<468), "each frame once, in order, up to the last that fits")
        // 1920 samples per picture: frames 0 and 1 start in picture 0, frame 2 (2048) in picture 1 at offset 128.
        #expect(audio.framesByPicture[0] == 0..<2)
        #expect(audio.framesByPicture[1] == 2..<4)
        #expect(audio.offsetInPicture[2] == 128)
        for (picture, range) in audio.framesByPicture.enumerated() {
            for index in range {
                #expect(UInt64(picture) * 1920 + UInt64(audio.offsetInPicture[index]) == UInt64(index) * 1024)
            }
        }
    }

    @Test func shortAudioLeavesSilenceAndFractionalRatesStayExact() throws {
        let short = try AudioClip(adts: Self.adts(frames: 3), pictures: 25, frameRate: (25, 1))
        #expect(short.framesByPicture.flatMap { Array($0) } == [0, 1, 2])
        #expect(short.framesByPicture[2...].allSatisfy { $0.isEmpty })
        // 30000/1001 fps: picture 30 starts at 30 * 48000 * 1001 / 30000 = 48048 samples.
        #expect(AudioClip.samples(atPicture: 30, sampleRate: 48000, frameRate: (30000, 1001)) == 48048)
    }

    @Test func notADTSIsAClearStartupError() {
        #expect(throws: ClipError.self) { try AudioClip(adts: [1, 2, 3, 4, 5, 6, 7, 8], pictures: 25, frameRate: (25, 1)) }
    }

    @Test func requestURLsFindTheirStreamAndTrack() throws {
        let clip = try H264Clip(annexB: Self.tinyH264())
        let main = SimStream(path: "/main", clip: clip, audio: nil)
        let deep = SimStream(path: "/main/hd", clip: clip, audio: nil)
        let root = SimStream(path: "/", clip: clip, audio: nil)
        let catalog = StreamCatalog(defaultStream: root, extra: [main, deep])
        func find(_ uri: String) -> String? {
            catalog.lookup(requestURI: uri).map { "\($0.stream.path) \($0.track.map(String.init) ?? "-")" }
        }
        #expect(find("rtsp://127.0.0.1:8554/main") == "/main -")
        #expect(find("rtsp://127.0.0.1:8554/main/") == "/main -")
        #expect(find("rtsp://127.0.0.1:8554/main/trackID=1") == "/main 1")
        #expect(find("rtsp://127.0.0.1:8554/main/hd/trackID=0") == "/main/hd 0")
        #expect(find("rtsp://127.0.0.1:8554/main?token=x") == "/main -")
        #expect(find("rtsp://127.0.0.1:8554/") == "/ -")
        #expect(find("rtsp://127.0.0.1:8554") == "/ -")
        #expect(find("rtsp://127.0.0.1:8554/trackID=0") == "/ 0")
        #expect(find("rtsp://127.0.0.1:8554/mainx") == nil)
        #expect(find("rtsp://127.0.0.1:8554/main/other") == nil)
        #expect(find("rtsp://127.0.0.1:8554/sub") == nil)

        // Without --stream, every path is the one stream, as before.
        let single = StreamCatalog(defaultStream: root, extra: [])
        #expect(single.lookup(requestURI: "rtsp://h:1/anything/at/all")?.stream.path == "/")
        #expect(single.lookup(requestURI: "rtsp://h:1/stream/trackID=0")?.track == 0)
    }

    @Test func streamOptionsAreCheckedBeforeAnyFileIsRead() throws {
        #expect(try StreamCatalog.parseOption("/main=a.h264,audio=a.aac") == ("/main", "a.h264", "a.aac"))
        #expect(try StreamCatalog.parseOption("/sub=b.h264") == ("/sub", "b.h264", nil))
        for bad in ["main=a.h264", "/=a.h264", "/main/=a.h264", "/ma in=a.h264", "/main", "/main=", "/main=a,b", "/main=a,audio="] {
            #expect(throws: StartupError.self, "\(bad)") { try StreamCatalog.parseOption(bad) }
        }
    }

    /// A minimal Annex-B H.264 stream: the committed 320x240 clip's first second.
    static func tinyH264() throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ServerStubs/SimCam/Media/clip.h264")
        return Array(try Data(contentsOf: url))
    }
}
