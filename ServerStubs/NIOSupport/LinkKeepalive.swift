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
    private var lastInbound = NIODeadline.now()
    private var established = false
    private var handshakeTask: Scheduled<Void>?
    private var tickTask: RepeatedTask?
    private let pendingBudget: PendingLinkBudget?
    /// The address whose pending slot this link holds, if it holds one.
    private var pendingSlotAddress: String?

    /// `pendingBudget` caps how many links may be mid-handshake at once (slowloris).
    public init(component: String, handshakeTimeout: TimeAmount = .seconds(10),
                heartbeatInterval: TimeAmount, peerTimeout: TimeAmount, pendingBudget: PendingLinkBudget? = nil) {
        self.pendingBudget = pendingBudget
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
        if let pendingBudget {
            let address = channel.remoteAddress?.ipAddress ?? "?"
            if let refusal = pendingBudget.admit(address: address) {
                let why = refusal == .full
                    ? "already \(pendingBudget.limit) connections mid-handshake (--max-pending)"
                    : "already \(pendingBudget.perAddressLimit) connections mid-handshake from \(address) (--max-pending-per-address)"
                ServerLog.warn(component, "\(describeRemote(channel.remoteAddress)): refused, \(why)")
                established = true
                channel.close(promise: nil)
                return
            }
            pendingSlotAddress = address
        }
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
        lastInbound = .now()
        let channel = context.channel
        let component = self.component
        let heartbeat = Message.heartbeat.encoded()
        tickTask = context.eventLoop.scheduleRepeatedTask(initialDelay: heartbeatInterval, delay: heartbeatInterval) { [weak self] task in
            guard let self else { task.cancel(); return }
            if NIODeadline.now() - self.lastInbound > self.peerTimeout {
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
        guard let address = pendingSlotAddress else { return }
        pendingSlotAddress = nil
        pendingBudget?.release(address: address)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastInbound = .now()
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }
}

/// How many links may be mid-handshake at once, shared by one server's links,
/// in all and from one address: without the second bound a single address can
/// hold every slot for the whole handshake timeout and lock every camera out.
/// The table holds only addresses with a link mid-handshake, so it is bounded
/// by `limit`. Used from that server's single event loop only.
public final class PendingLinkBudget {
    public enum Refusal: Equatable {
        case full
        case fullForAddress
    }

    public let limit: Int
    public let perAddressLimit: Int
    public private(set) var inUse = 0
    private var byAddress: [String: Int] = [:]

    public init(limit: Int, perAddressLimit: Int? = nil) {
        self.limit = limit
        self.perAddressLimit = min(perAddressLimit ?? limit, limit)
    }

    /// Takes a slot for `address` (an IP without port), or says why not.
    public func admit(address: String) -> Refusal? {
        guard inUse < limit else { return .full }
        let held = byAddress[address, default: 0]
        guard held < perAddressLimit else { return .fullForAddress }
        inUse += 1
        byAddress[address] = held + 1
        return nil
    }

    public func release(address: String) {
        inUse -= 1
        let held = byAddress[address, default: 1] - 1
        byAddress[address] = held > 0 ? held : nil
    }

    /// Addresses holding a slot now (for tests and the admin view).
    public var addressesHoldingSlots: Int { byAddress.count }
}
