import MediaCore
import Testing

@Suite struct MediaFanoutTests {
    static let small = MediaFanout.Configuration(
        cacheLimits: MediaBufferLimits(maxBytes: 100_000, maxFrames: 100),
        queueLimits: MediaBufferLimits(maxBytes: 5_000, maxFrames: 50))

    /// A 25-frame GOP with audio after every video frame: 50 frames, 1000 + 24 × 200 + 25 × 10 bytes.
    static func gopWithAudio(_ number: Int) -> [MediaFrame] {
        gop(from: number * 25, length: 25, deltaBytes: 200).flatMap { [$0, audio(Int($0.timestamp / 3600))] }
    }

    @Test func aNewViewerStartsWithTheTracksAndTheCachedGOP() {
        var fanout = MediaFanout(configuration: Self.small)
        _ = fanout.sourceStarted(tracks: [h264Track, aacTrack])
        for frame in gop(from: 0, length: 3) + gop(from: 3, length: 2) { _ = fanout.ingest(frame) }
        let viewer = fanout.addViewer()
        guard case .tracks(let tracks, false)? = fanout.next(for: viewer) else {
            Issue.record("expected the tracks first")
            return
        }
        #expect(tracks == [h264Track, aacTrack])
        var timestamps: [Int64] = []
        while let item = fanout.next(for: viewer) { timestamps.append(item.frame?.timestamp ?? -1) }
        #expect(timestamps == [3 * 3600, 4 * 3600])
        _ = fanout.ingest(video(5))
        let result1 = fanout.next(for: viewer)
        #expect(result1?.frame?.timestamp == Int64(5 * 3600))
    }

    @Test func aColdViewerGetsTheTracksWhenTheSourceStarts() {
        var fanout = MediaFanout(configuration: Self.small)
        let viewer = fanout.addViewer()
        let result2 = fanout.next(for: viewer)
        #expect(result2 == nil)
        let woken = fanout.sourceStarted(tracks: [h264Track])
        #expect(woken == [viewer])
        guard case .tracks(_, false)? = fanout.next(for: viewer) else {
            Issue.record("expected the first tracks, not a change")
            return
        }
        _ = fanout.ingest(video(0))  // no keyframe yet: nothing for the viewer
        let result3 = fanout.next(for: viewer)
        #expect(result3 == nil)
        let result4 = fanout.ingest(video(1, keyframe: true))
        #expect(result4 == [viewer])
    }

    @Test func aStalledViewerStaysWithinItsBoundWhileAFastViewerGetsEveryFrame() {
        var fanout = MediaFanout(configuration: Self.small)
        _ = fanout.sourceStarted(tracks: [h264Track, aacTrack])
        let fast = fanout.addViewer()
        let stalled = fanout.addViewer()
        let stalledWritable = fanout.setWritable(stalled, false)
        #expect(!stalledWritable)
        _ = fanout.next(for: fast)  // the tracks marker
        var received: [Int64] = []
        var sent: [Int64] = []
        for number in 0..<40 {
            for frame in Self.gopWithAudio(number) {
                sent.append(frame.timestamp)
                let woken = fanout.ingest(frame)
                #expect(!woken.contains(stalled))
                while let item = fanout.next(for: fast) { received.append(item.frame?.timestamp ?? -1) }
                let held = fanout.queue(for: stalled)!
                #expect(held.queuedBytes <= 5_000 && held.queuedFrames <= 50)
            }
        }
        #expect(received == sent)
        #expect(fanout.stats(for: fast)!.droppedFrames == 0)
        let stalledStats = fanout.stats(for: stalled)!
        #expect(stalledStats.droppedFrames > 0 && stalledStats.skips > 0)
        #expect(stalledStats.framesTaken == 0)
        #expect(fanout.framesIn == 40 * 50)
    }

    @Test func oneSourceToAThousandViewersHoldsBoundedBytes() {
        var fanout = MediaFanout(configuration: Self.small)
        _ = fanout.sourceStarted(tracks: [h264Track, aacTrack])
        var viewers: [ViewerID] = []
        for _ in 0..<1_000 { viewers.append(fanout.addViewer()) }
        // Every third viewer reads, the others are stalled.
        for (index, viewer) in viewers.enumerated() where index % 3 != 0 { _ = fanout.setWritable(viewer, false) }
        let bound = 100_000 + 1_000 * 5_000
        var peak = 0
        for number in 0..<20 {
            for frame in Self.gopWithAudio(number) {
                _ = fanout.ingest(frame)
                for (index, viewer) in viewers.enumerated() where index % 3 == 0 {
                    while fanout.next(for: viewer) != nil {}
                }
                peak = max(peak, fanout.heldBytes)
            }
        }
        #expect(peak <= bound)
        #expect(fanout.viewerCount == 1_000)
        for (index, viewer) in viewers.enumerated() {
            let stats = fanout.stats(for: viewer)!
            if index % 3 == 0 { #expect(stats.droppedFrames == 0 && stats.framesTaken == 20 * 50) }
            else { #expect(stats.droppedFrames > 0) }
        }
        for viewer in viewers { fanout.removeViewer(viewer) }
        #expect(fanout.viewerCount == 0 && fanout.heldBytes == fanout.cache.bytes)
    }

    @Test func aTrackChangeReinitsEveryViewerAndResetsTheCache() {
        var fanout = MediaFanout(configuration: Self.small)
        _ = fanout.sourceStarted(tracks: [h264Track])
        let first = fanout.addViewer()
        let second = fanout.addViewer()
        for frame in gop(from: 0, length: 3) { _ = fanout.ingest(frame) }
        for viewer in [first, second] { while fanout.next(for: viewer) != nil {} }
        let unchanged = fanout.setTracks([h264Track])  // unchanged: nothing
        #expect(unchanged.isEmpty)
        let result5 = fanout.setTracks([h264Track1080])
        #expect(Set(result5) == [first, second])
        #expect(fanout.cache.frames.isEmpty && fanout.trackChanges == 1)
        for viewer in [first, second] {
            guard case .tracks(let tracks, true)? = fanout.next(for: viewer) else {
                Issue.record("expected a reinit marker")
                continue
            }
            #expect(tracks == [h264Track1080])
        }
        _ = fanout.ingest(video(3))  // a delta of the new stream before its keyframe
        let result6 = fanout.next(for: first)
        #expect(result6 == nil)
        let late = fanout.addViewer()
        _ = fanout.ingest(video(4, keyframe: true))
        guard case .tracks(let tracks, false)? = fanout.next(for: late) else {
            Issue.record("a new viewer starts, it is not reinitialised")
            return
        }
        #expect(tracks == [h264Track1080])
        let result7 = fanout.next(for: late)
        #expect(result7?.frame?.timestamp == Int64(4 * 3600))
    }

    @Test func aReconnectWithTheSameTracksIsADiscontinuity() {
        var fanout = MediaFanout(configuration: Self.small)
        let beforeViewers = fanout.sourceStarted(tracks: [h264Track])  // no viewers yet
        #expect(beforeViewers.isEmpty)
        let viewer = fanout.addViewer()
        _ = fanout.next(for: viewer)
        let beforeFrames = fanout.sourceStarted(tracks: [h264Track])  // no frames since: nothing to mark
        #expect(beforeFrames.isEmpty)
        for frame in gop(from: 0, length: 2) { _ = fanout.ingest(frame) }
        while fanout.next(for: viewer) != nil {}
        let result8 = fanout.sourceStarted(tracks: [h264Track])
        #expect(result8 == [viewer])
        if case .discontinuity? = fanout.next(for: viewer) {} else { Issue.record("expected a discontinuity") }
        #expect(fanout.cache.frames.isEmpty && fanout.restarts == 1)
    }

    @Test func removingAViewerReturnsItsCountersAndKeepsTheOthers() {
        var fanout = MediaFanout(configuration: Self.small)
        _ = fanout.sourceStarted(tracks: [h264Track])
        let a = fanout.addViewer()
        let b = fanout.addViewer()
        let c = fanout.addViewer()
        _ = fanout.ingest(video(0, keyframe: true))
        let stats = fanout.removeViewer(a)
        #expect(stats?.framesQueued == 1)
        let result9 = fanout.removeViewer(a)
        #expect(result9 == nil)
        #expect(Set(fanout.viewerIDs) == [b, c])
        _ = fanout.ingest(video(1))
        #expect(fanout.queue(for: b)?.queuedFrames == 2 && fanout.queue(for: c)?.queuedFrames == 2)
    }
}
