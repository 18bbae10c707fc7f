import CamMedia

// The contract between the media pipeline (which pulls a camera and knows its
// tracks and clocks) and the frame log (which stores what it is given). The
// pipeline never sees files; the frame log never sees RTSP.

/// One thing to record for one camera target, in capture order.
public enum RecordingInput: Sendable {
    /// The stream's tracks (SDP order), before the first frame and again on any
    /// material change (new parameter sets, new codec, main -> substream): the
    /// frame log writes a codec-config record, and a new day file starts with it.
    case description([TrackDescription])
    /// A video access unit or audio frame. `captureNanos` is wall-clock UTC in
    /// nanoseconds since 1970, mapped from RTP time (RTCP sender reports, else
    /// the arrival clock). `counter` is the per-day frame counter when the
    /// sender assigned one (the UDP uplink, #13); nil lets the frame log assign
    /// the next one (a tunnel pull, DESIGN section 9 "Counters").
    case frame(MediaFrame, captureNanos: Int64, counter: UInt32?)
    /// A small telemetry record (JSON: position, battery, ...).
    case telemetry(json: [UInt8], captureNanos: Int64)
    /// The pull lost the camera at `captureNanos` (link down, camera gone,
    /// stream ended): playback shows a gap from here to the next frame.
    case gap(captureNanos: Int64)
}

/// What the operator set for one camera target (endpoint registry, pushed to
/// the streampoint over the channel). Nil retention means no limit of that kind.
public struct RecordingSettings: Sendable, Equatable {
    public var agentID: String
    public var target: String
    public var enabled: Bool
    public var retentionDays: Int?
    public var retentionBytes: Int64?

    public init(agentID: String, target: String, enabled: Bool, retentionDays: Int? = nil, retentionBytes: Int64? = nil) {
        self.agentID = agentID
        self.target = target
        self.enabled = enabled
        self.retentionDays = retentionDays
        self.retentionBytes = retentionBytes
    }
}

/// Bytes on disk for one camera target's recordings, for the console and /metrics.
public struct RecordingUsage: Sendable, Equatable {
    public var agentID: String
    public var target: String
    public var bytes: Int64
    /// UTC days with a file, "YYYY-MM-DD", oldest first.
    public var days: [String]

    public init(agentID: String, target: String, bytes: Int64, days: [String]) {
        self.agentID = agentID
        self.target = target
        self.bytes = bytes
        self.days = days
    }
}

/// Where the media pipeline hands what it records. Must never block the caller
/// (the pipeline's event loop): an implementation queues, bounded, and counts
/// what it drops.
public protocol RecordingSink: AnyObject, Sendable {
    func record(agentID: String, target: String, _ input: RecordingInput)
    /// Settings for every camera target the endpoint knows (a full snapshot).
    func apply(_ settings: [RecordingSettings])
    func usage() -> [RecordingUsage]
}
