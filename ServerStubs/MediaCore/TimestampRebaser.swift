// Keeps a viewer's RTP timestamps running on when the camera's restart: after
// a reconnect of the pull, the camera starts a new timeline, but an RTSP
// player that stayed connected expects the one it knows to carry on.

public struct TimestampRebaser: Sendable {
    private var offsets: [Int: Int64] = [:]
    private var last: [Int: Int64] = [:]
    private var pending = false

    public init() {}

    /// The source's timeline restarted: the next frame of each track continues from where its last one was.
    public mutating func restart() { pending = true; rebased = [] }

    private var rebased: Set<Int> = []

    /// `timestamp` on the viewer's timeline. After a restart each track's first
    /// frame lands one nominal frame (40 ms) after its last one.
    public mutating func rebase(_ timestamp: Int64, track: Int, clockRate: UInt32) -> Int64 {
        if pending, !rebased.contains(track) {
            rebased.insert(track)
            if let previous = last[track] {
                offsets[track] = previous + Int64(clockRate) / 25 - timestamp
            }
        }
        let output = timestamp + (offsets[track] ?? 0)
        last[track] = output
        return output
    }
}
