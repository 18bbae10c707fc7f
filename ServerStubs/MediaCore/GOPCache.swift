// The frames a new viewer needs to start decoding at once: everything from the
// last video keyframe on, audio included, plus the track descriptions they
// belong to. Without it a viewer joining a pulled stream waits up to a GOP
// (often 1-4 s) for the next keyframe.

/// Bounds shared by the GOP cache and the viewer queues: whichever is reached first.
public struct MediaBufferLimits: Sendable, Equatable {
    public var maxBytes: Int
    public var maxFrames: Int

    public init(maxBytes: Int, maxFrames: Int) {
        self.maxBytes = maxBytes
        self.maxFrames = maxFrames
    }

    func admits(bytes: Int, frames: Int) -> Bool { bytes <= maxBytes && frames <= maxFrames }
}

/// Where a viewer may start decoding: a video keyframe, or any audio frame of a
/// stream without video (audio frames decode on their own).
@inlinable
public func isSyncPoint(_ frame: MediaFrame, streamHasVideo: Bool) -> Bool {
    frame.codec.isVideo ? frame.isKeyframe : !streamHasVideo
}

public struct GOPCache: Sendable {
    /// A GOP of 4 Mbit/s with a 2 s keyframe interval is about 1 MiB; a 25 fps
    /// stream with audio sends about 75 frames a second.
    public static let defaultLimits = MediaBufferLimits(maxBytes: 8 << 20, maxFrames: 600)

    public let limits: MediaBufferLimits
    public private(set) var tracks: [TrackDescription] = []
    /// Starts with a video keyframe, or is empty.
    public private(set) var frames: [MediaFrame] = []
    /// Payload bytes of `frames`.
    public private(set) var bytes = 0
    /// GOPs that outgrew the limits; each left the cache empty until the next keyframe.
    public private(set) var overflows = 0
    /// Set when the current GOP outgrew the limits, so its tail is not cached either.
    public private(set) var isOverflowing = false

    public init(limits: MediaBufferLimits = GOPCache.defaultLimits) {
        self.limits = limits
    }

    public var streamHasVideo: Bool { tracks.contains { $0.codec.isVideo } }

    /// New descriptions. Returns whether they differ from the current ones; if
    /// they do, cached frames belong to the old codec or size and are dropped.
    @discardableResult
    public mutating func setTracks(_ newTracks: [TrackDescription]) -> Bool {
        guard newTracks != tracks else { return false }
        tracks = newTracks
        clearFrames()
        isOverflowing = false
        return true
    }

    public mutating func append(_ frame: MediaFrame) {
        let size = frame.payload.count
        if frame.codec.isVideo && frame.isKeyframe {
            clearFrames()
            isOverflowing = false
        } else if frames.isEmpty {
            // Nothing decodable to attach this to (no keyframe yet, or the GOP overflowed).
            return
        }
        guard limits.admits(bytes: bytes + size, frames: frames.count + 1) else {
            // Half a GOP is worse than none: a viewer would start on a frame that
            // references what was dropped. Hold nothing until the next keyframe.
            clearFrames()
            isOverflowing = true
            overflows += 1
            return
        }
        frames.append(frame)
        bytes += size
    }

    /// Drops the frames, keeps the descriptions (the source is reconnecting and
    /// the next GOP will not continue this one).
    public mutating func clearFrames() {
        frames.removeAll(keepingCapacity: true)
        bytes = 0
    }
}
