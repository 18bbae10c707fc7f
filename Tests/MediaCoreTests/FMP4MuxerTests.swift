import MediaCore
import Testing

/// The muxer's boxes read back with an independent parser: nesting, sizes,
/// sample entries, and that trun's offsets land on each frame's bytes.
@Suite struct FMP4MuxerTests {
    // The committed clip's parameter sets (320x240 constrained baseline, level 1.3).
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x0D, 0xD9, 0x01, 0x41, 0xFB, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
                               0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xF1, 0x42, 0xA4, 0x80]
    static let pps: [UInt8] = [0x68, 0xCB, 0x83, 0xCB, 0x20]
    static let h264 = TrackDescription(codec: .h264, clockRate: 90000, payloadType: 96, sps: sps, pps: pps, width: 320, height: 240)
    static let aac = TrackDescription(codec: .aac, clockRate: 48000, payloadType: 97, audioConfig: [0x11, 0x90], channels: 2)

    static func frame(_ timestamp: Int64, key: Bool = false, track: Int = 0, codec: MediaCodec = .h264, size: Int = 10) -> MediaFrame {
        MediaFrame(codec: codec, track: track, timestamp: timestamp, isKeyframe: key,
                   payload: (0..<size).map { UInt8(truncatingIfNeeded: Int(timestamp) &+ $0) })
    }

    /// (duration, size, flags) per sample, and the data offset, of a traf's trun.
    static func trun(_ traf: ParsedBox) -> (offset: Int, samples: [(UInt32, UInt32, UInt32)]) {
        let trun = traf.child("trun")!
        #expect(trun.u32(at: 0) == 0x0000_0701, "version 0, data offset + duration + size + flags")
        let count = Int(trun.u32(at: 4))
        let samples = (0..<count).map { i in (trun.u32(at: 12 + 12 * i), trun.u32(at: 16 + 12 * i), trun.u32(at: 20 + 12 * i)) }
        #expect(trun.body.count == 12 + 12 * count)
        return (Int(Int32(bitPattern: trun.u32(at: 8))), samples)
    }

    @Test func initSegmentNestsEveryBoxAnMSEPlayerNeeds() throws {
        let muxer = try FMP4Muxer(tracks: [.init(Self.h264, frameTrack: 0), .init(Self.aac, frameTrack: 1)])
        let top = try ParsedBox.parse(muxer.initSegment)
        #expect(top.map(\.type) == ["ftyp", "moov"])
        #expect(top.reduce(0) { $0 + $1.size } == muxer.initSegment.count)
        #expect(Array(top[0].body[0..<4]) == Array("isom".utf8))
        let moov = top[1]
        #expect(moov.children.map(\.type) == ["mvhd", "trak", "trak", "mvex"])
        #expect(moov.child("mvhd")!.size == 108)
        #expect(moov.child("mvhd")!.u32(at: 96) == 3, "next track ID")

        let video = moov.children[1]
        #expect(video.children.map(\.type) == ["tkhd", "mdia"])
        let tkhd = video.child("tkhd")!
        #expect(tkhd.size == 92 && tkhd.u32(at: 12) == 1)
        #expect(tkhd.u32(at: 76) == 320 << 16 && tkhd.u32(at: 80) == 240 << 16)
        #expect(video.child("mdia")!.children.map(\.type) == ["mdhd", "hdlr", "minf"])
        #expect(video.child("mdia/mdhd")!.u32(at: 12) == 90000, "timescale = the RTP clock")
        #expect(Array(video.child("mdia/hdlr")!.body[8..<12]) == Array("vide".utf8))
        #expect(video.child("mdia/minf")!.children.map(\.type) == ["vmhd", "dinf", "stbl"])
        let stbl = video.child("mdia/minf/stbl")!
        #expect(stbl.children.map(\.type) == ["stsd", "stts", "stsc", "stsz", "stco"])
        for empty in ["stts", "stsc", "stco"] { #expect(stbl.child(empty)!.size == 16, "\(empty) has no entries") }
        #expect(stbl.child("stsz")!.size == 20)

        let stsd = stbl.child("stsd")!
        #expect(stsd.u32(at: 4) == 1)
        let avc1 = try #require(try ParsedBox.parse(Array(stsd.body[8...])).first)
        #expect(avc1.type == "avc1")
        #expect(avc1.body[24] == 0x01 && avc1.body[25] == 0x40 && avc1.body[26] == 0x00 && avc1.body[27] == 0xF0, "width 320, height 240")
        let avcC = try #require(try ParsedBox.parse(Array(avc1.body[78...])).first)
        #expect(avcC.type == "avcC")
        #expect(avcC.body == [1, 0x42, 0xC0, 0x0D, 0xFF, 0xE1, 0, UInt8(Self.sps.count)] + Self.sps + [1, 0, UInt8(Self.pps.count)] + Self.pps)

        let audio = moov.children[2]
        #expect(Array(audio.child("mdia/hdlr")!.body[8..<12]) == Array("soun".utf8))
        #expect(audio.child("mdia/mdhd")!.u32(at: 12) == 48000)
        #expect(audio.child("mdia/minf")!.children.first?.type == "smhd")
        let audioStsd = audio.child("mdia/minf/stbl/stsd")!
        let mp4a = try #require(try ParsedBox.parse(Array(audioStsd.body[8...])).first)
        #expect(mp4a.type == "mp4a")
        #expect(mp4a.body[17] == 2 && mp4a.body[19] == 16, "2 channels of 16 bits")
        #expect(ParsedBox(type: "", offset: 0, size: 0, body: mp4a.body).u32(at: 24) == 48000 << 16)
        let esds = try #require(try ParsedBox.parse(Array(mp4a.body[28...])).first)
        #expect(esds.type == "esds")
        // ES_Descriptor(ES_ID 2) > DecoderConfigDescriptor(MPEG-4 audio) > DecoderSpecificInfo(ASC), SLConfig.
        #expect(esds.body == [0, 0, 0, 0, 0x03, 25, 0, 2, 0, 0x04, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                              0x05, 2, 0x11, 0x90, 0x06, 1, 0x02])

        let mvex = moov.child("mvex")!
        #expect(mvex.children.map(\.type) == ["trex", "trex"])
        #expect(mvex.children.map { $0.u32(at: 4) } == [1, 2])
        #expect(mvex.children.allSatisfy { $0.size == 32 && $0.u32(at: 8) == 1 })

        #expect(muxer.codecs == "avc1.42c00d,mp4a.40.2")
        #expect(muxer.mimeType == #"video/mp4; codecs="avc1.42c00d,mp4a.40.2""#)
        #expect(muxer.width == 320 && muxer.height == 240)
    }

    @Test func aDescriptionWithoutPictureSizeTakesItFromTheSPS() throws {
        var description = Self.h264
        description.width = 0
        description.height = 0
        let muxer = try FMP4Muxer(tracks: [.init(description, frameTrack: 0)])
        let moov = try ParsedBox.parse(muxer.initSegment)[1]
        #expect(moov.child("trak/tkhd")!.u32(at: 76) == 320 << 16)
        #expect(muxer.width == 320 && muxer.height == 240)
    }

    @Test func mediaSegmentOffsetsPointAtEachFramesBytes() throws {
        var muxer = try FMP4Muxer(tracks: [.init(Self.h264, frameTrack: 0), .init(Self.aac, frameTrack: 1)])
        let frames = [Self.frame(1000, key: true, size: 37), Self.frame(1000, track: 1, codec: .aac, size: 11),
                      Self.frame(4600, size: 5), Self.frame(1024 + 1000, track: 1, codec: .aac, size: 13), Self.frame(8200, size: 300)]
        let segment = try muxer.segment(frames)
        #expect(segment.isRandomAccessPoint)
        let top = try ParsedBox.parse(segment.bytes)
        #expect(top.map(\.type) == ["moof", "mdat"])
        let moof = top[0]
        #expect(moof.children.map(\.type) == ["mfhd", "traf", "traf"])
        #expect(moof.child("mfhd")!.u32(at: 4) == 1)
        let mdat = top[1]
        #expect(mdat.size == 8 + 37 + 11 + 5 + 13 + 300)

        let videoTraf = moof.children[1], audioTraf = moof.children[2]
        #expect(videoTraf.children.map(\.type) == ["tfhd", "tfdt", "trun"])
        #expect(videoTraf.child("tfhd")!.u32(at: 0) == 0x0002_0000 && videoTraf.child("tfhd")!.u32(at: 4) == 1)
        #expect(audioTraf.child("tfhd")!.u32(at: 4) == 2)
        let tfdt = videoTraf.child("tfdt")!
        #expect(tfdt.u32(at: 0) == 0x0100_0000 && tfdt.u64(at: 4) == 0, "version 1; the timeline starts at 0")

        let video = Self.trun(videoTraf)
        #expect(video.samples.map(\.0) == [3600, 3600, 3600], "durations: the real gaps, then the previous gap")
        #expect(video.samples.map(\.1) == [37, 5, 300])
        #expect(video.samples.map(\.2) == [0x0200_0000, 0x0101_0000, 0x0101_0000], "sync, then non-sync")
        #expect(video.offset == moof.size + 8, "first run starts right after the mdat header")
        var position = video.offset
        for (frame, sample) in zip([frames[0], frames[2], frames[4]], video.samples) {
            #expect(Array(segment.bytes[position..<(position + Int(sample.1))]) == frame.payload)
            position += Int(sample.1)
        }
        let audio = Self.trun(audioTraf)
        #expect(audio.offset == position, "the audio run follows the video run in the mdat")
        #expect(audio.samples.map(\.0) == [1024, 1024] && audio.samples.allSatisfy { $0.2 == 0x0200_0000 })
        #expect(Array(segment.bytes[audio.offset..<(audio.offset + 11)]) == frames[1].payload)
        #expect(Array(segment.bytes[(audio.offset + 11)..<(audio.offset + 24)]) == frames[3].payload)

        // The next segment: sequence 2, tfdt is the true time whatever the guess was.
        let next = try muxer.segment(Self.frame(8200 + 4000))
        #expect(!next.isRandomAccessPoint)
        let nextMoof = try ParsedBox.parse(next.bytes)[0]
        #expect(nextMoof.child("mfhd")!.u32(at: 4) == 2)
        #expect(nextMoof.child("traf/tfdt")!.u64(at: 4) == 7200 + 4000)
        #expect(Self.trun(nextMoof.child("traf")!).samples.map(\.0) == [4000])
        let audioOnly = try muxer.segment(Self.frame(3048, track: 1, codec: .aac))
        #expect(!audioOnly.isRandomAccessPoint, "audio of an audio+video stream is no place to resume video")
    }

    @Test func aTimestampJumpContinuesTheTimeline() throws {
        var muxer = try FMP4Muxer(tracks: [.init(Self.h264, frameTrack: 0)])
        var decodeTimes: [UInt64] = []
        for timestamp: Int64 in [5_000_000, 5_003_600, 5_007_200, 100, 3700, 3700 + 90000 * 11] {
            let moof = try ParsedBox.parse(try muxer.segment(Self.frame(timestamp, key: true)).bytes)[0]
            decodeTimes.append(moof.child("traf/tfdt")!.u64(at: 4))
        }
        // Backwards (a camera restart) and a jump over 10 s both continue one frame on.
        #expect(decodeTimes == [0, 3600, 7200, 10800, 14400, 18000])
    }

    @Test func aSingleFrameSegmentTakesTheDefaultThenThePreviousDuration() throws {
        var muxer = try FMP4Muxer(tracks: [.init(Self.h264, frameTrack: 0)])
        var durations: [UInt32] = []
        for timestamp: Int64 in [0, 3000, 6000] {
            let moof = try ParsedBox.parse(try muxer.segment(Self.frame(timestamp, key: timestamp == 0)).bytes)[0]
            durations += Self.trun(moof.child("traf")!).samples.map(\.0)
        }
        #expect(durations == [3600, 3000, 3000])
    }

    @Test func g711AndIncompleteTracksAreRefused() throws {
        let pcmu = TrackDescription(codec: .pcmu, clockRate: 8000, payloadType: 0)
        #expect(throws: FMP4Error.unsupportedCodec(.pcmu)) { try FMP4Muxer(tracks: [.init(pcmu, frameTrack: 0)]) }
        #expect(throws: FMP4Error.noTracks) { try FMP4Muxer(tracks: []) }
        var noPPS = Self.h264
        noPPS.pps = []
        #expect(throws: FMP4Error.missingParameterSets(.h264)) { try FMP4Muxer(tracks: [.init(noPPS, frameTrack: 0)]) }
        let noVPS = TrackDescription(codec: .h265, clockRate: 90000, payloadType: 96, sps: HEVCFixtures.sps, pps: [0x44, 0x01, 0xC1])
        #expect(throws: FMP4Error.missingParameterSets(.h265)) { try FMP4Muxer(tracks: [.init(noVPS, frameTrack: 0)]) }
        let badAAC = TrackDescription(codec: .aac, clockRate: 48000, payloadType: 97, audioConfig: [])
        #expect(throws: FMP4Error.missingAudioConfig) { try FMP4Muxer(tracks: [.init(badAAC, frameTrack: 0)]) }

        // A session's G.711 is left out and named; frames keep their SDP numbering.
        let (session, leftOut) = try FMP4Muxer.forSession([pcmu, Self.h264])
        var muxer = session
        #expect(leftOut == [0] && muxer.codecs == "avc1.42c00d")
        #expect(throws: FMP4Error.unknownTrack(0)) { try muxer.segment(Self.frame(0, key: true, track: 0)) }
        #expect(throws: FMP4Error.noFrames) { try muxer.segment([]) }
        #expect(try muxer.segment(Self.frame(0, key: true, track: 1)).isRandomAccessPoint)
    }
}

enum HEVCFixtures {
    /// libx265's SPS for a 320x240 4:4:4 picture (Main 4:4:4, level 2): profile 4, compatibility flag 4,
    /// constraint bytes 9E 08, conformance window cropping 320x240 from 320x240.
    static let sps: [UInt8] = [0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9E, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00,
                               0x3C, 0x90, 0x01, 0x41, 0x01, 0xE2, 0xCB, 0x25, 0x49, 0x26, 0x57, 0x80, 0xB7, 0x02, 0x02, 0x00,
                               0x04, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x64, 0x20]
}

@Suite struct CodecStringTests {
    @Test func mseCodecStringsFollowRFC6381AndAnnexE() throws {
        #expect(try FMP4Muxer(tracks: [.init(FMP4MuxerTests.h264, frameTrack: 0)]).codecs == "avc1.42c00d")
        let hevc = TrackDescription(codec: .h265, clockRate: 90000, payloadType: 96, vps: [0x40, 0x01, 0x0C], sps: HEVCFixtures.sps,
                                    pps: [0x44, 0x01, 0xC1])
        let muxer = try FMP4Muxer(tracks: [.init(hevc, frameTrack: 0)])
        #expect(muxer.codecs == "hvc1.4.10.L60.9E.8")
        #expect(muxer.width == 320 && muxer.height == 240, "from the SPS when the description has none")
        let hvcC = try #require(try ParsedBox.parse(Array(try ParsedBox.parse(Array(ParsedBox.parse(muxer.initSegment)[1]
            .child("trak/mdia/minf/stbl/stsd")!.body[8...]))[0].body[78...])).first)
        #expect(hvcC.type == "hvcC")
        // ffmpeg's own hvcC for this SPS begins with exactly these 22 bytes (then it keeps an SEI array too).
        #expect(Array(hvcC.body[0..<22]) == [0x01, 0x04, 0x08, 0x00, 0x00, 0x00, 0x9E, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3C,
                                             0xF0, 0x00, 0xFC, 0xFF, 0xF8, 0xF8, 0x00, 0x00, 0x0F])
        #expect(hvcC.body[22] == 3 && hvcC.body[23] == 0x80 | 32, "VPS, SPS and PPS arrays, complete")
        let heAAC = TrackDescription(codec: .aac, clockRate: 44100, payloadType: 97, audioConfig: [0x2B, 0x92, 0x08, 0x00])
        #expect(try FMP4Muxer(tracks: [.init(heAAC, frameTrack: 0)]).codecs == "mp4a.40.5")
        let lc = TrackDescription(codec: .aac, clockRate: 44100, payloadType: 97, audioConfig: [0x12, 0x10])
        #expect(try FMP4Muxer(tracks: [.init(lc, frameTrack: 0)]).codecs == "mp4a.40.2")
        #expect(mseCodecString(for: lc) == "mp4a.40.2" && mseCodecString(for: hevc) == muxer.codecs)
        #expect(mseCodecString(for: TrackDescription(codec: .pcma, clockRate: 8000, payloadType: 8)) == nil)
    }

    @Test func playerMessagesAreTheDocumentedJSON() throws {
        let muxer = try FMP4Muxer(tracks: [.init(FMP4MuxerTests.h264, frameTrack: 0)])
        #expect(LivePlayerProtocol.initMessage(for: muxer) == #"{"type":"init","codec":"avc1.42c00d","width":320,"height":240}"#)
        #expect(LivePlayerProtocol.initMessage(codecs: "avc1.42c00d", width: 0, height: 0, note: "G.711 \"audio\" \u{1}é")
                == #"{"type":"init","codec":"avc1.42c00d","width":0,"height":0,"note":"G.711 \"audio\" \u0001\u00e9"}"#)
        #expect(LivePlayerProtocol.statusMessage("camera unreachable") == #"{"type":"status","message":"camera unreachable"}"#)
        #expect(LivePlayerProtocol.initSegmentMessage(muxer).first == 0)
        #expect(Array(LivePlayerProtocol.initSegmentMessage(muxer).dropFirst()) == muxer.initSegment)
        var copy = muxer
        #expect(LivePlayerProtocol.mediaSegmentMessage(try copy.segment(FMP4MuxerTests.frame(0, key: true))).first == 1)
        #expect(LivePlayerProtocol.mediaSegmentMessage(try copy.segment(FMP4MuxerTests.frame(3600))).first == 2)
    }

    @Test func thePlayerPageIsSelfContained() {
        let page = PlayerPage.html
        #expect(page.hasPrefix("<!doctype html>") && page.contains("MediaSource.isTypeSupported") && page.contains("\"/live/\""))
        #expect(!page.contains("src=\"http") && !page.contains("<link"), "no external assets")
        #expect(PlayerPage.contentSecurityPolicy.contains("media-src blob:"))
    }
}
