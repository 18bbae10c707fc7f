import MediaCore
import Testing

/// The arrival times behind camagent_streampoint_media_added_latency_seconds:
/// each frame's time in from the source comes out of the viewer's queue with
/// it, through skips and compaction, and replayed GOP frames carry none.
@Suite struct AddedLatencyTimingTests {
    @Test func aFrameComesOutOfTheQueueWithItsArrivalTime() {
        var queue = ViewerQueue(limits: ViewerQueueTests.limits)
        queue.enqueueTracks([h264Track], isChange: false)
        queue.enqueue(video(0, keyframe: true), arrivedAt: 1_000)
        queue.enqueue(video(1), arrivedAt: 2_000)
        queue.enqueue(video(2))
        let taken = (0..<4).compactMap { _ in queue.take() }
        #expect(taken.count == 4)
        #expect(taken.map { $0.arrivedAt } == [0, 1_000, 2_000, 0], "the marker and the untimed frame carry 0")
        #expect(taken.compactMap { $0.item.frame }.map(\.timestamp) == [0, 3600, 7200])
        #expect(queue.take() == nil)
    }

    @Test func arrivalTimesStayWithTheirFramesAcrossASkipAndCompaction() {
        var queue = ViewerQueue(limits: MediaBufferLimits(maxBytes: 1 << 30, maxFrames: 1_000))
        // 600 frames taken 300 at a time: the ring compacts (head ≥ 256) in between.
        var expected: [UInt64] = []
        for index in 0..<600 {
            let arrival = UInt64(10_000 + index)
            queue.enqueue(video(index, keyframe: index % 25 == 0), arrivedAt: arrival)
            expected.append(arrival)
        }
        var seen: [UInt64] = []
        for _ in 0..<300 { seen.append(queue.take()?.arrivedAt ?? 0) }
        for index in 600..<700 {
            queue.enqueue(video(index, keyframe: index % 25 == 0), arrivedAt: UInt64(10_000 + index))
            expected.append(UInt64(10_000 + index))
        }
        while let next = queue.take() { seen.append(next.arrivedAt) }
        #expect(seen == expected)

        // A viewer that falls behind drops its backlog; what it resumes with keeps its own times.
        var small = ViewerQueue(limits: ViewerQueueTests.limits)
        for (offset, frame) in gop(from: 0, length: 6, keyBytes: 500).enumerated() { small.enqueue(frame, arrivedAt: UInt64(offset + 1)) }
        small.enqueue(video(6), arrivedAt: 7)  // over the bound: skip to the next keyframe
        small.enqueue(video(7, keyframe: true, bytes: 400), arrivedAt: 8)
        small.enqueue(video(8), arrivedAt: 9)
        var resumed: [UInt64] = []
        while let next = small.take() { resumed.append(next.arrivedAt) }
        #expect(resumed == [8, 9])
    }

    @Test func theFanoutTimesLiveFramesButNotTheReplayedGOP() {
        var fanout = MediaFanout(configuration: MediaFanoutTests.small)
        _ = fanout.sourceStarted(tracks: [h264Track])
        let early = fanout.addViewer()
        for (offset, frame) in gop(from: 0, length: 3).enumerated() { _ = fanout.ingest(frame, arrivedAt: UInt64(100 + offset)) }
        let late = fanout.addViewer()  // joins with the cached GOP
        _ = fanout.ingest(video(3), arrivedAt: 200)
        func arrivals(_ viewer: ViewerID) -> [UInt64] {
            var times: [UInt64] = []
            while let taken = fanout.take(for: viewer) {
                if taken.item.frame != nil { times.append(taken.arrivedAt) }
            }
            return times
        }
        #expect(arrivals(early) == [100, 101, 102, 200])
        #expect(arrivals(late) == [0, 0, 0, 200], "frames replayed from the cache are not timed")
    }
}
