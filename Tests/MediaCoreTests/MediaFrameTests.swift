import MediaCore
import Testing

@Suite struct MediaFrameTests {
    @Test func codecsKnowWhetherTheyAreVideo() {
        #expect(MediaCodec.h264.isVideo && MediaCodec.h265.isVideo)
        #expect(!MediaCodec.aac.isVideo && !MediaCodec.pcmu.isVideo && !MediaCodec.pcma.isVideo)
    }
}
