// One viewer's backlog between the fan-out and its socket. The producer (the one
// pull) never waits for a viewer: a viewer that cannot keep up loses frames, in
// whole GOPs, and resumes at the next keyframe, so what it does play decodes.

/// What a viewer output takes from its queue, in order.
public enum ViewerItem: Sendable {
    /// The tracks the frames that follow belong to. The first one starts the
    /// output (fMP4 init segment, RTSP SDP); a later one means the source changed
    /// codec or picture size: send a new init segment, or end an RTSP session
    /// cleanly so the player reconnects and DESCRIBEs again (DESIGN §9).
    case tracks([TrackDescription], isChange: Bool)
    /// The source reconnected with the same tracks: timestamps restart from an
    /// unrelated value. Rebase them so the output's timeline continues.
    case discontinuity
    case frame(MediaFrame)
}

public struct ViewerQueueStats: Sendable, Equatable {
    /// Frames and payload bytes thrown away because the viewer fell behind.
    public var droppedFrames = 0
    public var droppedBytes = 0
    /// How many times the viewer fell behind (each starts one skip to a keyframe).
    public var skips = 0
    /// Frames passed over while waiting for the first keyframe after joining or
    /// after a track change: not the viewer's fault, so not counted as drops.
    public var framesBeforeStart = 0
    public var framesQueued = 0
    public var framesTaken = 0

    public init() {}
}

public struct ViewerQueue: Sendable {
    /// A quarter of a GOP cache at 8 MiB would refuse a replayed 4 Mbit/s GOP of
    /// 2 s, so the queue gets the same bytes; frames are shared with the cache
    /// and the other queues (copy-on-write), so a full queue mostly holds
    /// references to payloads that exist once.
    public static let defaultLimits = MediaBufferLimits(maxBytes: 8 << 20, maxFrames: 600)

    enum Mode: Equatable {
        /// Before the first sync point of the current tracks.
        case awaitingStart
        case flowing
        /// Fell behind: dropping until the next sync point.
        case skipping
    }

    public let limits: MediaBufferLimits
    public private(set) var stats = ViewerQueueStats()
    /// Payload bytes and frames waiting. Track markers count as neither: there is
    /// at most one per waiting frame, plus one (see `enqueueTracks`).
    public private(set) var queuedBytes = 0
    public private(set) var queuedFrames = 0
    /// Set by the I/O side from its channel's writability; the queue only reports
    /// whether there is work, the I/O side pulls with `next()`.
    public var isWritable = true
    /// Chooses the resume point for audio-only streams (see `isSyncPoint`).
    public var streamHasVideo = true
    private(set) var mode = Mode.awaitingStart

    /// A ring by head index: `removeFirst` on an Array would move every element
    /// per frame. Taken slots are set to nil at once so their payloads are freed.
    private var storage: [ViewerItem?] = []
    /// When each item's frame came in from the source (uptime nanoseconds), by
    /// the same index as `storage`; 0: not timed (a marker, or a frame replayed
    /// from the GOP cache). Feeds the added-latency histogram.
    private var arrivals: [UInt64] = []
    private var head = 0

    public init(limits: MediaBufferLimits = ViewerQueue.defaultLimits) {
        self.limits = limits
    }

    public var isEmpty: Bool { head == storage.count }
    public var count: Int { storage.count - head }
    /// The I/O side should pull now.
    public var wantsWrite: Bool { isWritable && !isEmpty }
    public var isSkipping: Bool { mode == .skipping }

    /// Offers one frame. Never blocks and never grows the queue past its limits.
    /// `arrivedAt`: when it came in from the source, handed back by `take()`.
    public mutating func enqueue(_ frame: MediaFrame, arrivedAt: UInt64 = 0) {
        let size = frame.payload.count
        let syncPoint = isSyncPoint(frame, streamHasVideo: streamHasVideo)
        switch mode {
        case .awaitingStart:
            guard syncPoint else {
                stats.framesBeforeStart += 1
                return
            }
            mode = .flowing
        case .skipping:
            guard syncPoint else {
                drop(frames: 1, bytes: size)
                return
            }
            mode = .flowing
        case .flowing:
            break
        }
        if !limits.admits(bytes: queuedBytes + size, frames: queuedFrames + 1) {
            // Fell behind: throw away the backlog and wait for a point it can resume
            // from. The frame that overflowed starts that point if it is one.
            stats.skips += 1
            dropQueuedFrames()
            mode = .skipping
            guard syncPoint, limits.admits(bytes: size, frames: 1) else {
                drop(frames: 1, bytes: size)
                return
            }
            mode = .flowing
        }
        append(.frame(frame), arrivedAt: arrivedAt)
        queuedBytes += size
        queuedFrames += 1
        stats.framesQueued += 1
    }

    /// Offers new track descriptions. Frames still queued for the old tracks stay
    /// ahead of the marker (they decode with the old init segment); the queue then
    /// waits for a keyframe of the new tracks.
    public mutating func enqueueTracks(_ tracks: [TrackDescription], isChange: Bool) {
        // A marker with no frame after it is superseded in place, so a stalled
        // viewer holds at most one marker per queued frame, plus one.
        switch lastItem {
        case .tracks(_, let wasChange)?:
            storage[storage.count - 1] = .tracks(tracks, isChange: wasChange)
        case .discontinuity?:
            storage[storage.count - 1] = .tracks(tracks, isChange: isChange)
        default:
            append(.tracks(tracks, isChange: isChange))
        }
        streamHasVideo = tracks.contains { $0.codec.isVideo }
        if mode != .skipping { mode = .awaitingStart }
    }

    /// The source restarted with the same tracks; the queue waits for its first keyframe.
    public mutating func enqueueDiscontinuity() {
        switch lastItem {
        case .tracks?, .discontinuity?: break  // already a fresh start
        default: append(.discontinuity)
        }
        if mode != .skipping { mode = .awaitingStart }
    }

    private var lastItem: ViewerItem? {
        head < storage.count ? storage[storage.count - 1] : nil
    }

    /// The next item to write, or nil when the queue is empty. Does not look at
    /// `isWritable`: the I/O side asks only while its channel is writable.
    public mutating func next() -> ViewerItem? { take()?.item }

    /// `next()`, with the time the frame came in from the source (0: not timed).
    public mutating func take() -> (item: ViewerItem, arrivedAt: UInt64)? {
        guard head < storage.count, let item = storage[head] else { return nil }
        let arrivedAt = arrivals[head]
        storage[head] = nil
        head += 1
        if case .frame(let frame) = item {
            queuedBytes -= frame.payload.count
            queuedFrames -= 1
            stats.framesTaken += 1
        }
        compactIfWorthIt()
        return (item, arrivedAt)
    }

    private mutating func append(_ item: ViewerItem, arrivedAt: UInt64 = 0) {
        storage.append(item)
        arrivals.append(arrivedAt)
    }

    private mutating func drop(frames: Int, bytes: Int) {
        stats.droppedFrames += frames
        stats.droppedBytes += bytes
    }

    /// Drops the queued frames but keeps one marker if any was waiting: the
    /// output still has to learn the newest tracks (or the restart) before the
    /// next keyframe. A tracks marker is a change only if the first waiting one
    /// was (else the output has not started yet).
    private mutating func dropQueuedFrames() {
        var firstWasChange: Bool?
        var newest: [TrackDescription]?
        var restarted = false
        for index in head..<storage.count {
            switch storage[index] {
            case .tracks(let tracks, let isChange)?:
                if firstWasChange == nil { firstWasChange = isChange }
                newest = tracks
            case .discontinuity?:
                restarted = true
            default:
                break
            }
        }
        drop(frames: queuedFrames, bytes: queuedBytes)
        storage.removeAll(keepingCapacity: true)
        arrivals.removeAll(keepingCapacity: true)
        head = 0
        queuedBytes = 0
        queuedFrames = 0
        if let newest, let firstWasChange {
            append(.tracks(newest, isChange: firstWasChange))
        } else if restarted {
            append(.discontinuity)
        }
    }

    private mutating func compactIfWorthIt() {
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            arrivals.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 && head * 2 >= storage.count {
            storage.removeFirst(head)
            arrivals.removeFirst(head)
            head = 0
        }
    }
}
