import MediaCore
import Testing

@Suite struct GOPCacheTests {
    @Test func holdsFromTheLastKeyframeWithInterleavedAudio() {
        var cache = GOPCache()
        cache.setTracks([h264Track, aacTrack])
        cache.append(audio(0))  // before any keyframe: nothing to attach it to
        cache.append(video(1))
        #expect(cache.frames.isEmpty)
        cache.append(video(2, keyframe: true, bytes: 1000))
        cache.append(audio(3))
        cache.append(video(4))
        let expected: [Int64] = [2 * 3600, 3 * 1024, 4 * 3600]
        #expect(cache.frames.map(\.timestamp) == expected)
        #expect(cache.bytes == 1000 + 10 + 100)
        cache.append(video(5, keyframe: true, bytes: 900))
        #expect(cache.frames.count == 1)
        #expect(cache.bytes == 900)
    }

    @Test func aGOPOverTheByteLimitLeavesNothingUntilTheNextKeyframe() {
        var cache = GOPCache(limits: MediaBufferLimits(maxBytes: 1_500, maxFrames: 100))
        for frame in gop(from: 0, length: 5) { cache.append(frame) }  // 1000 + 4 × 100 = 1400
        #expect(cache.bytes == 1_400)
        cache.append(video(5))  // 1500: exactly the limit, still held
        #expect(cache.bytes == 1_500)
        cache.append(video(6))  // over
        #expect(cache.frames.isEmpty && cache.bytes == 0)
        #expect(cache.overflows == 1 && cache.isOverflowing)
        cache.append(video(7))
        cache.append(audio(8))
        #expect(cache.frames.isEmpty)
        #expect(cache.overflows == 1)  // one count per overflowing GOP
        cache.append(video(9, keyframe: true))
        #expect(cache.frames.count == 1 && !cache.isOverflowing)
    }

    @Test func aGOPOverTheFrameLimitOverflowsToo() {
        var cache = GOPCache(limits: MediaBufferLimits(maxBytes: 1 << 20, maxFrames: 3))
        for frame in gop(from: 0, length: 3) { cache.append(frame) }
        #expect(cache.frames.count == 3)
        cache.append(audio(3))
        #expect(cache.frames.isEmpty && cache.overflows == 1)
    }

    @Test func aKeyframeLargerThanTheLimitIsNotCached() {
        var cache = GOPCache(limits: MediaBufferLimits(maxBytes: 500, maxFrames: 100))
        cache.append(video(0, keyframe: true, bytes: 501))
        #expect(cache.frames.isEmpty && cache.overflows == 1)
    }

    @Test func newTracksResetTheCacheAndTheSameTracksDoNot() {
        var cache = GOPCache()
        let first = cache.setTracks([h264Track, aacTrack])
        #expect(first)
        for frame in gop(from: 0, length: 4) { cache.append(frame) }
        let same = cache.setTracks([h264Track, aacTrack])
        #expect(!same)
        #expect(cache.frames.count == 4)
        let changed = cache.setTracks([h264Track1080, aacTrack])
        #expect(changed)
        #expect(cache.frames.isEmpty && cache.bytes == 0)
        #expect(cache.tracks == [h264Track1080, aacTrack])
    }

    @Test func defaultsAreEightMebibytesAndSixHundredFrames() {
        #expect(GOPCache.defaultLimits == MediaBufferLimits(maxBytes: 8 * 1024 * 1024, maxFrames: 600))
    }
}
