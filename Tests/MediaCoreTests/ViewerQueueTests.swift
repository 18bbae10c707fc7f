import MediaCore
import Testing

@Suite struct ViewerQueueTests {
    static let limits = MediaBufferLimits(maxBytes: 1_000, maxFrames: 10)

    @Test func aViewerThatFallsBehindSkipsToTheNextKeyframeWithExactDropCounts() {
        var queue = ViewerQueue(limits: Self.limits)
        for frame in gop(from: 0, length: 6, keyBytes: 500) { queue.enqueue(frame) }  // 500 + 5 × 100 = 1000
        #expect(queue.queuedBytes == 1_000 && queue.queuedFrames == 6)
        #expect(queue.stats.droppedFrames == 0)

        queue.enqueue(video(6))  // would make 1100: the backlog and this frame go
        #expect(queue.isSkipping)
        #expect(queue.queuedBytes == 0 && queue.queuedFrames == 0 && queue.isEmpty)
        #expect(queue.stats.skips == 1)
        #expect(queue.stats.droppedFrames == 7 && queue.stats.droppedBytes == 1_100)

        queue.enqueue(video(7))
        queue.enqueue(audio(8))  // audio of a video stream waits for the keyframe too
        queue.enqueue(video(9))
        #expect(queue.stats.droppedFrames == 10 && queue.stats.droppedBytes == 1_100 + 100 + 10 + 100)

        queue.enqueue(video(10, keyframe: true, bytes: 400))
        queue.enqueue(video(11))
        #expect(!queue.isSkipping)
        #expect(drain(&queue).compactMap(\.frame).map(\.timestamp) == [10 * 3600, 11 * 3600])
        #expect(queue.stats.droppedFrames == 10 && queue.stats.skips == 1)
        #expect(queue.stats.framesQueued == 8 && queue.stats.framesTaken == 2)
    }

    @Test func anOverflowingKeyframeStartsTheNextRunAtOnce() {
        var queue = ViewerQueue(limits: Self.limits)
        for frame in gop(from: 0, length: 4, keyBytes: 600) { queue.enqueue(frame) }  // 900
        queue.enqueue(video(4, keyframe: true, bytes: 600))
        #expect(!queue.isSkipping)
        #expect(queue.stats.droppedFrames == 4 && queue.stats.droppedBytes == 900)
        #expect(queue.queuedFrames == 1 && queue.queuedBytes == 600)
    }

    @Test func theFrameCountBoundsAsWellAsTheBytes() {
        var queue = ViewerQueue(limits: Self.limits)
        for frame in gop(from: 0, length: 10, keyBytes: 10, deltaBytes: 10) { queue.enqueue(frame) }
        #expect(queue.queuedFrames == 10)
        queue.enqueue(video(10, bytes: 10))
        #expect(queue.queuedFrames == 0 && queue.stats.droppedFrames == 11 && queue.stats.droppedBytes == 110)
    }

    @Test func framesBeforeTheFirstKeyframeAreNotCountedAsDrops() {
        var queue = ViewerQueue(limits: Self.limits)
        queue.enqueue(video(0))
        queue.enqueue(audio(1))
        #expect(queue.isEmpty)
        #expect(queue.stats.framesBeforeStart == 2 && queue.stats.droppedFrames == 0)
        queue.enqueue(video(2, keyframe: true))
        queue.enqueue(audio(3))
        #expect(queue.queuedFrames == 2)
    }

    @Test func anAudioOnlyStreamResumesAtAnyFrame() {
        var queue = ViewerQueue(limits: MediaBufferLimits(maxBytes: 30, maxFrames: 10))
        queue.enqueueTracks([aacTrack], isChange: false)
        for index in 0..<3 { queue.enqueue(audio(index)) }
        #expect(queue.queuedFrames == 3)
        queue.enqueue(audio(3))  // 40 > 30: the backlog goes, this frame starts again
        #expect(queue.queuedFrames == 1 && queue.stats.droppedFrames == 3 && queue.stats.droppedBytes == 30)
    }

    @Test func aTrackChangeMarkerSurvivesASkipAndTheNewestTracksWin() {
        var queue = ViewerQueue(limits: Self.limits)
        queue.enqueueTracks([h264Track], isChange: false)
        for frame in gop(from: 0, length: 3, keyBytes: 100) { queue.enqueue(frame) }  // 300
        guard case .tracks(let first, false)? = queue.next() else {
            Issue.record("expected the first track marker")
            return
        }
        #expect(first == [h264Track])
        queue.enqueueTracks([h264Track1080], isChange: true)
        queue.enqueueTracks([h264Track1080, aacTrack], isChange: true)  // supersedes the unsent marker
        for frame in gop(from: 3, length: 8, keyBytes: 500) { queue.enqueue(frame) }  // overflows at 1100
        #expect(queue.isSkipping)
        let items = drain(&queue)
        #expect(items.count == 1)
        guard case .tracks(let tracks, let isChange)? = items.first else {
            Issue.record("expected the track marker")
            return
        }
        #expect(tracks == [h264Track1080, aacTrack] && isChange)
    }

    @Test func aRestartMarksADiscontinuityOnceAndWaitsForAKeyframe() throws {
        var queue = ViewerQueue(limits: Self.limits)
        for frame in gop(from: 0, length: 2, keyBytes: 100) { queue.enqueue(frame) }
        queue.enqueueDiscontinuity()
        queue.enqueueDiscontinuity()
        queue.enqueue(video(2))
        queue.enqueue(video(3, keyframe: true))
        let items = drain(&queue)
        try #require(items.count == 4)
        if case .discontinuity = items[2] {} else { Issue.record("expected one discontinuity after the old frames") }
        #expect(items[3].frame?.timestamp == Int64(3 * 3600))
    }

    @Test func writabilityIsAnInputAndTheProducerNeverWaits() {
        var queue = ViewerQueue(limits: Self.limits)
        queue.isWritable = false
        for frame in gop(from: 0, length: 3, keyBytes: 500) { queue.enqueue(frame) }
        #expect(!queue.wantsWrite && queue.queuedFrames == 3)
        queue.isWritable = true
        #expect(queue.wantsWrite)
    }

    @Test func aStalledQueueNeverExceedsItsBound() {
        var queue = ViewerQueue(limits: Self.limits)
        var offered = 0
        for index in 0..<10_000 {
            let frame = index % 25 == 0 ? video(index, keyframe: true, bytes: 300) :
                (index % 2 == 0 ? audio(index) : video(index, bytes: 50 + index % 70))
            queue.enqueue(frame)
            offered += 1
            #expect(queue.queuedBytes <= 1_000 && queue.queuedFrames <= 10)
        }
        // Every frame offered is accounted for exactly once.
        #expect(queue.stats.framesTaken + queue.queuedFrames + queue.stats.droppedFrames + queue.stats.framesBeforeStart == offered)
        #expect(queue.stats.skips > 0)
    }
}
