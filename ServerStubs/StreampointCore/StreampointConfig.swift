import NIOCore

public struct StreampointConfig {
    public var streampointID: String
    public var ticketKey: [UInt8]
    public var viewerBind: String
    public var publicHost: String
    public var viewerPortBase: Int
    public var heartbeat: TimeAmount
    public var peerTimeout: TimeAmount
    public var maxTunnels: Int
    public var bindTimeout: TimeAmount = .seconds(10)
    /// Consecutive ports found busy (by other processes) before a target is given up.
    public var maxPortAttempts = 1024
    /// Seconds a media pull outlives its last viewer (MediaMTX's sourceOnDemand).
    public var mediaLinger: Double = 20
    /// Bytes a media viewer's queue may hold before it skips to the next keyframe.
    public var viewerQueueBytes = 8 << 20
    /// --passthrough-open: the passthrough ports admit anyone, as they did before
    /// viewer tokens, and raw TCP targets get a port. Otherwise HTTP and RTSP
    /// targets need a viewer token and raw TCP targets get no port.
    public var passthroughOpen = false

    public init(streampointID: String, ticketKey: [UInt8], viewerBind: String, publicHost: String, viewerPortBase: Int,
                heartbeat: TimeAmount, peerTimeout: TimeAmount, maxTunnels: Int) {
        self.streampointID = streampointID
        self.ticketKey = ticketKey
        self.viewerBind = viewerBind
        self.publicHost = publicHost
        self.viewerPortBase = viewerPortBase
        self.heartbeat = heartbeat
        self.peerTimeout = peerTimeout
        self.maxTunnels = maxTunnels
    }
}
