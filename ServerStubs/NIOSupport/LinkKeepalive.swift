import CamProtocol
import NIOCore

/// Server-side timers for one control link, placed in front of the link decoder:
/// - the handshake must finish within `handshakeTimeout` (bounds slow or silent clients);
/// - once established, HEARTBEAT goes out every `heartbeatInterval`;
/// - any inbound byte counts as life; silence longer than `peerTimeout` closes the link.
public final class LinkKeepaliveHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let handshakeTimeout: TimeAmount
    private let heartbeatInterval: TimeAmount
    private let peerTimeout: TimeAmount
    private let component: String
    /// On the event loop's clock, so a test's EmbeddedEventLoop can run the peer timeout.
    private var lastInbound = NIODeadline.now()
    private var established = false
    private var handshakeTask: Scheduled<Void>?
    private var tickTask: RepeatedTask?
    /// The --max-pending slot this link holds until it is established or gone.
    private let pendingSlot: PendingLinkSlot?

    /// `pendingSlot` is what PendingLinkBudget.admit gave this link, released
    /// here once the link leaves its handshake.
    public init(component: String, handshakeTimeout: TimeAmount = .seconds(10),
                heartbeatInterval: TimeAmount, peerTimeout: TimeAmount, pendingSlot: PendingLinkSlot? = nil) {
        self.pendingSlot = pendingSlot
        self.component = component
        self.handshakeTimeout = handshakeTimeout
        self.heartbeatInterval = heartbeatInterval
        self.peerTimeout = peerTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard handshakeTask == nil, !established else { return }
        let channel = context.channel
        let component = self.component
        let timeout = handshakeTimeout
        handshakeTask = context.eventLoop.scheduleTask(in: handshakeTimeout) { [weak self] in
            guard let self, !self.established else { return }
            ServerLog.warn(component, "\(describeRemote(channel.remoteAddress)) did not finish the handshake in \(timeout.nanoseconds / 1_000_000_000) s; closing")
            channel.close(promise: nil)
        }
    }

    /// Call once the link is authenticated: switches from the handshake deadline to heartbeats.
    public func markEstablished(context: ChannelHandlerContext) {
        guard !established else { return }
        established = true
        releasePendingSlot()
        handshakeTask?.cancel()
        lastInbound = context.eventLoop.now
        let channel = context.channel
        let component = self.component
        let heartbeat = Message.heartbeat.encoded()
        tickTask = context.eventLoop.scheduleRepeatedTask(initialDelay: heartbeatInterval, delay: heartbeatInterval) { [weak self] task in
            guard let self else { task.cancel(); return }
            if channel.eventLoop.now - self.lastInbound > self.peerTimeout {
                ServerLog.warn(component, "\(describeRemote(channel.remoteAddress)) silent for more than \(self.peerTimeout.nanoseconds / 1_000_000_000) s; closing")
                channel.close(promise: nil)
                task.cancel()
                return
            }
            var buffer = channel.allocator.buffer(capacity: heartbeat.count)
            buffer.writeBytes(heartbeat)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    /// Stops all timers: used when a link stops being a control link (tunnel data).
    public func stop() {
        established = true
        releasePendingSlot()
        handshakeTask?.cancel()
        tickTask?.cancel()
    }

    private func releasePendingSlot() {
        pendingSlot?.release()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastInbound = context.eventLoop.now
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    /// A pipeline torn down without channelInactive must not keep its slot.
    public func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }
}
