// One pulled source, any number of viewers: each frame goes into the GOP cache
// and into every viewer's own bounded queue. A slow viewer only ever costs its
// own queue; the source and the other viewers never wait for it.
//
// Pure and single-threaded: the streampoint keeps one per camera target and
// calls it from that target's event loop.

public struct ViewerID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "viewer-\(rawValue)" }
}

public struct MediaFanout: Sendable {
    public struct Configuration: Sendable {
        public var cacheLimits: MediaBufferLimits
        public var queueLimits: MediaBufferLimits

        public init(cacheLimits: MediaBufferLimits = GOPCache.defaultLimits,
                    queueLimits: MediaBufferLimits = ViewerQueue.defaultLimits) {
            self.cacheLimits = cacheLimits
            self.queueLimits = queueLimits
        }
    }

    public let configuration: Configuration
    public private(set) var cache: GOPCache
    public private(set) var framesIn = 0
    public private(set) var bytesIn = 0
    /// Track changes seen (codec or picture size), each one a reinit for every viewer.
    public private(set) var trackChanges = 0
    /// Reconnects of the source with unchanged tracks.
    public private(set) var restarts = 0

    // Parallel arrays, so that a frame reaches every queue by index, in place,
    // without hashing each viewer's ID per frame.
    private var ids: [ViewerID] = []
    private var queues: [ViewerQueue] = []
    private var slot: [ViewerID: Int] = [:]
    private var nextID: UInt64 = 1
    /// Frames arrived since the last (re)start: a restart before any frame needs no marker.
    private var framesSinceStart = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.cache = GOPCache(limits: configuration.cacheLimits)
    }

    public var tracks: [TrackDescription] { cache.tracks }
    public var viewerCount: Int { ids.count }
    public var viewerIDs: [ViewerID] { ids }

    /// Payload bytes held: the cache plus every queue, each counted where it is
    /// held even though queues share payload storage with the cache.
    public var heldBytes: Int { queues.reduce(cache.bytes) { $0 + $1.queuedBytes } }

    /// A new viewer. Its queue starts with the current tracks and the cached GOP,
    /// so it can start decoding at once; without tracks yet (cold start) it gets
    /// them with `sourceStarted`. Pull from it with `next(for:)`.
    public mutating func addViewer() -> ViewerID {
        let id = ViewerID(rawValue: nextID)
        nextID += 1
        var queue = ViewerQueue(limits: configuration.queueLimits)
        if !cache.tracks.isEmpty {
            queue.enqueueTracks(cache.tracks, isChange: false)
            for frame in cache.frames { queue.enqueue(frame) }
        }
        slot[id] = ids.count
        ids.append(id)
        queues.append(queue)
        return id
    }

    /// Forgets the viewer and returns its final counters.
    @discardableResult
    public mutating func removeViewer(_ id: ViewerID) -> ViewerQueueStats? {
        guard let index = slot.removeValue(forKey: id) else { return nil }
        let stats = queues[index].stats
        let last = ids.count - 1
        if index != last {
            ids[index] = ids[last]
            queues.swapAt(index, last)
            slot[ids[index]] = index
        }
        ids.removeLast()
        queues.removeLast()
        return stats
    }

    /// The pull (re)started with these tracks. New tracks reinit every viewer; the
    /// same tracks after frames have flowed mark a discontinuity (timestamps
    /// restart). Returns the viewers that now have something to write.
    public mutating func sourceStarted(tracks newTracks: [TrackDescription]) -> [ViewerID] {
        if newTracks != cache.tracks { return setTracks(newTracks) }
        guard framesSinceStart > 0 else { return [] }
        framesSinceStart = 0
        restarts += 1
        cache.clearFrames()
        return forEachQueue { $0.enqueueDiscontinuity() }
    }

    /// New tracks from in-band parameter sets or a new description. Unchanged
    /// tracks are ignored. Returns the viewers that now have something to write.
    public mutating func setTracks(_ newTracks: [TrackDescription]) -> [ViewerID] {
        let hadTracks = !cache.tracks.isEmpty
        guard cache.setTracks(newTracks) else { return [] }
        if hadTracks { trackChanges += 1 }
        framesSinceStart = 0
        return forEachQueue { $0.enqueueTracks(newTracks, isChange: hadTracks) }
    }

    /// One frame from the source. Returns the viewers whose queue went from empty
    /// to non-empty while writable: those the I/O side must start writing to
    /// (the others are already writing, or wait for writability).
    /// `arrivedAt` (uptime nanoseconds; 0: not timed) comes back from `take(for:)`
    /// with the frame, for the added-latency histogram; the GOP cache does not
    /// keep it, so a replayed frame is not timed.
    public mutating func ingest(_ frame: MediaFrame, arrivedAt: UInt64 = 0) -> [ViewerID] {
        framesIn += 1
        bytesIn += frame.payload.count
        framesSinceStart += 1
        cache.append(frame)
        return forEachQueue { $0.enqueue(frame, arrivedAt: arrivedAt) }
    }

    /// The next item for this viewer's output, or nil when its queue is empty (or
    /// the viewer is unknown).
    public mutating func next(for id: ViewerID) -> ViewerItem? {
        take(for: id)?.item
    }

    /// `next(for:)`, with the time the frame came in (0: not timed).
    public mutating func take(for id: ViewerID) -> (item: ViewerItem, arrivedAt: UInt64)? {
        guard let index = slot[id] else { return nil }
        return queues[index].take()
    }

    /// The viewer's channel became writable or unwritable. Returns whether the I/O
    /// side should pull and write now.
    public mutating func setWritable(_ id: ViewerID, _ writable: Bool) -> Bool {
        guard let index = slot[id] else { return false }
        queues[index].isWritable = writable
        return queues[index].wantsWrite
    }

    public func stats(for id: ViewerID) -> ViewerQueueStats? {
        slot[id].map { queues[$0].stats }
    }

    public func queue(for id: ViewerID) -> ViewerQueue? {
        slot[id].map { queues[$0] }
    }

    private mutating func forEachQueue(_ offer: (inout ViewerQueue) -> Void) -> [ViewerID] {
        var woken: [ViewerID] = []
        for index in queues.indices {
            let wasIdle = queues[index].isEmpty
            offer(&queues[index])
            if wasIdle && queues[index].wantsWrite { woken.append(ids[index]) }
        }
        return woken
    }
}
