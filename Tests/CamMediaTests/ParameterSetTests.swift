import CamMedia
import Testing

@Suite struct ParameterSetTests {
    @Test func annexBSplitsAtThreeAndFourByteStartCodes() {
        let stream: [UInt8] = [9, 9, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 0, 0]
        #expect(splitAnnexB(stream) == [[0x67, 1, 2], [0x68, 3], [0x65, 4]])
        #expect(splitAnnexB([0, 0, 1]) == [])
    }

    @Test func avccJoinAndSplitAreInverse() {
        let nals: [[UInt8]] = [[0x67, 1], [0x65, 2, 3, 4]]
        let payload = AVCC.join(nals)
        #expect(payload == [0, 0, 0, 2, 0x67, 1, 0, 0, 0, 4, 0x65, 2, 3, 4])
        #expect(AVCC.nalUnits(in: payload)?.map { Array($0) } == nals)
        #expect(AVCC.nalUnits(in: Array(payload.dropLast())) == nil)
    }

    @Test func clipSPSGives320x240AndCodecString() throws {
        let nals = splitAnnexB(try loadSimcamClip())
        let spsNAL = try #require(nals.first { H264NAL.type($0) == H264NAL.sps })
        let sps = try H264SPS(nal: spsNAL)
        #expect(sps.width == 320 && sps.height == 240)
        #expect(sps.codecString.count == 11 && sps.codecString.hasPrefix("avc1."))
        #expect(sps.codecString == "avc1." + sps.profileLevelID)
        #expect(sps.profileLevelID.uppercased() == sps.profileLevelID)
        #expect(throws: BitstreamError.wrongNALType) { try H264SPS(nal: [0x68, 1, 2, 3]) }
        #expect(throws: BitstreamError.truncated) { try H264SPS(nal: Array(spsNAL.prefix(5))) }
        // Every access unit of the clip has a slice; the first one is the IDR with SPS and PPS.
        let units = groupAccessUnits(nals, codec: .h264)
        #expect(units.allSatisfy { $0.contains { H264NAL.isVCL(H264NAL.type($0)) } })
        #expect(units.first.map { $0.map { H264NAL.type($0) } }?.prefix(2) == [7, 8])
    }

    @Test func baselineCodecStringFormatsHex() throws {
        let sps = try H264SPS(nal: FakeH264.sps)
        #expect(sps.codecString == "avc1.42C01E")
    }

    @Test(.enabled(if: ffmpegPath != nil, "needs ffmpeg with libx264"))
    func h264At1080pIsCropped() throws {
        let stream = try generateStream(encoder: "libx264", format: "h264", size: "1920x1080", frames: 1)
        let spsNAL = try #require(splitAnnexB(stream).first { H264NAL.type($0) == H264NAL.sps })
        let sps = try H264SPS(nal: spsNAL)
        #expect(sps.width == 1920 && sps.height == 1080)
        #expect(sps.profileIDC == 100 && sps.chromaFormatIDC == 1 && sps.bitDepthLuma == 8)
        #expect(sps.frameRateNumerator == 25 && sps.frameRateDenominator == 1)
        #expect(sps.codecString.hasPrefix("avc1.6400"))
    }

    @Test(.enabled(if: ffmpegPath != nil, "needs ffmpeg with libx265"))
    func h265At1080pUsesTheConformanceWindow() throws {
        let stream = try generateStream(encoder: "libx265", format: "hevc", size: "1920x1080", frames: 1)
        let spsNAL = try #require(splitAnnexB(stream).first { H265NAL.type($0) == H265NAL.sps })
        let sps = try H265SPS(nal: spsNAL)
        #expect(sps.width == 1920 && sps.height == 1080)
        #expect(sps.profileIDC == 1 && sps.chromaFormatIDC == 1)
        #expect(sps.codecString.hasPrefix("hvc1.1.6.L"))
        #expect(sps.codecString.hasSuffix(".B0") || sps.codecString.hasSuffix(".90"))
    }
}
