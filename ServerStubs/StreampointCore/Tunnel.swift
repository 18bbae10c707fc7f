import CamNIO
import CamProtocol
import Foundation
import NIOCore
import ServerMetrics

/// One viewer connection and, once the agent binds, the data link it is spliced to.
///
/// Lives on the single event loop. The two handlers (ViewerHandler and the data
/// link's AgentLinkHandler) forward their events here; this class moves the
/// bytes, applies backpressure (a side is not read while its partner is
/// unwritable, as in SwiftNIO's GlueHandler) and runs SpliceStateMachine's actions.
final class Tunnel {
    enum State: String {
        case pending
        case open
        case closed
    }

    /// Early viewer bytes kept while waiting for the agent's data link.
    static let earlyBytesLimit = 64 * 1024
    /// How long a side may take to drain after its partner has gone.
    static let drainTimeout: TimeAmount = .seconds(30)

    let id: UInt32
    let agentID: String
    let sessionID: UInt64
    let target: TunnelTarget
    let bindToken: [UInt8]
    let viewerAddress: String
    let openedAt = Date()
    private let openedAtTime = NIODeadline.now()

    private(set) var state: State = .pending
    private(set) var bytesToViewer: UInt64 = 0
    private(set) var bytesFromViewer: UInt64 = 0

    private var viewer: ChannelHandlerContext?
    private var agent: ChannelHandlerContext?
    private var earlyBytes: ByteBuffer?
    private var viewerEOFWhilePending = false
    private var viewerReadHeld = false
    private var agentReadHeld = false
    private var splice = SpliceStateMachine()
    var pendingTimeout: Scheduled<Void>?
    /// Called once when the tunnel ends, whatever the reason.
    var onFinished: ((Tunnel) -> Void)?

    init(id: UInt32, agentID: String, sessionID: UInt64, target: TunnelTarget, bindToken: [UInt8],
         viewer: ChannelHandlerContext, viewerAddress: String) {
        self.id = id
        self.agentID = agentID
        self.sessionID = sessionID
        self.target = target
        self.bindToken = bindToken
        self.viewer = viewer
        self.viewerAddress = viewerAddress
    }

    var label: String { "tunnel \(id) (agent \(agentID) target \(target.name), viewer \(viewerAddress))" }

    private func context(_ side: SpliceSide) -> ChannelHandlerContext? {
        side == .viewer ? viewer : agent
    }

    // MARK: pending phase

    /// The agent refused or never bound: close the viewer and forget the tunnel.
    func abortPending(reason: String, failure: StreampointMetrics.TunnelFailure, level: ServerLog.Level = .warn) {
        guard state == .pending else { return }
        StreampointMetrics.tunnelFailed(failure)
        ServerLog.log(level, "streampoint", "\(label) closed before bind: \(reason)")
        finish()
    }

    /// Closes the tunnel in any state, both sides at once: its agent was revoked.
    func terminate(reason: String) {
        guard state != .closed else { return }
        ServerLog.info("streampoint", "\(label) closing: \(reason)")
        finish()
    }

    /// The agent's data link passed TUNNEL_BIND and has been sent HELLO_ACK.
    func attach(agent context: ChannelHandlerContext) {
        precondition(state == .pending)
        state = .open
        StreampointMetrics.tunnelOpened()
        pendingTimeout?.cancel()
        pendingTimeout = nil
        agent = context
        var early = 0
        if let buffer = earlyBytes, buffer.readableBytes > 0 {
            early = buffer.readableBytes
            bytesFromViewer += UInt64(early)
            StreampointMetrics.bytesFromViewer(early)
            context.write(NIOAny(buffer), promise: nil)
        }
        earlyBytes = nil
        context.flush()
        ServerLog.info("streampoint", "\(label) open; \(early) early viewer bytes forwarded")
        if viewerEOFWhilePending {
            perform(splice.inputClosed(.viewer))
        }
        if viewerReadHeld {
            viewerReadHeld = false
            viewer?.read()
        }
    }

    // MARK: events from the handlers

    func read(from side: SpliceSide, _ buffer: ByteBuffer) {
        switch (state, side) {
        case (.pending, .viewer):
            if earlyBytes == nil {
                earlyBytes = buffer
            } else {
                var incoming = buffer
                earlyBytes!.writeBuffer(&incoming)
            }
        case (.open, .viewer):
            bytesFromViewer += UInt64(buffer.readableBytes)
            StreampointMetrics.bytesFromViewer(buffer.readableBytes)
            agent?.write(NIOAny(buffer), promise: nil)
        case (.open, .agent):
            bytesToViewer += UInt64(buffer.readableBytes)
            StreampointMetrics.bytesToViewer(buffer.readableBytes)
            viewer?.write(NIOAny(buffer), promise: nil)
        default:
            break  // closed, or bytes racing a close: dropped
        }
    }

    func readComplete(from side: SpliceSide) {
        guard state == .open else { return }
        context(side.other)?.flush()
    }

    /// Backpressure: whether `side` may be read now. When not, the read is
    /// remembered and issued once the reason goes away.
    func mayRead(_ side: SpliceSide) -> Bool {
        switch (state, side) {
        case (.pending, .viewer):
            if (earlyBytes?.readableBytes ?? 0) >= Tunnel.earlyBytesLimit {
                viewerReadHeld = true
                return false
            }
            return true
        case (.open, _):
            if let partner = context(side.other), partner.channel.isActive, !partner.channel.isWritable {
                if side == .viewer { viewerReadHeld = true } else { agentReadHeld = true }
                return false
            }
            return true
        default:
            return true
        }
    }

    func writabilityChanged(_ side: SpliceSide) {
        guard state == .open, let context = context(side), context.channel.isWritable else { return }
        // `side` can take bytes again: resume reading its partner.
        if side == .viewer, agentReadHeld {
            agentReadHeld = false
            agent?.read()
        } else if side == .agent, viewerReadHeld {
            viewerReadHeld = false
            viewer?.read()
        }
    }

    func inputClosed(_ side: SpliceSide) {
        switch state {
        case .pending:
            if side == .viewer { viewerEOFWhilePending = true }
        case .open:
            perform(splice.inputClosed(side))
        case .closed:
            break
        }
    }

    func channelInactive(_ side: SpliceSide) {
        switch state {
        case .pending:
            if side == .viewer {
                abortPending(reason: "the viewer disconnected", failure: .viewerLeft, level: .info)
            }
        case .open:
            perform(splice.channelInactive(side))
        case .closed:
            break
        }
    }

    // MARK: splice actions

    private func perform(_ action: SpliceStateMachine.Action) {
        switch action {
        case .none:
            break
        case .shutdownOutputAfterDrain(let side):
            guard let context = context(side) else { return }
            drain(context).whenComplete { [self] _ in
                context.close(mode: .output).whenComplete { [self] result in
                    switch result {
                    case .success:
                        perform(splice.outputShutdown(side))
                    case .failure:
                        context.close(promise: nil)
                    }
                }
            }
        case .closeAfterDrain(let side):
            guard let context = context(side) else { return }
            let channel = context.channel
            drain(context).whenComplete { _ in channel.close(promise: nil) }
            // A partner that never drains (viewer stopped reading) must not hold the socket forever.
            context.eventLoop.scheduleTask(in: Tunnel.drainTimeout) { channel.close(promise: nil) }
        case .closeBoth:
            viewer?.close(promise: nil)
            agent?.close(promise: nil)
        case .finished:
            finish()
        }
    }

    /// Succeeds once everything written to `context` so far has reached the socket.
    private func drain(_ context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        return promise.futureResult
    }

    private func finish() {
        guard state != .closed else { return }
        let wasOpen = state == .open
        state = .closed
        pendingTimeout?.cancel()
        pendingTimeout = nil
        earlyBytes = nil
        if wasOpen {
            StreampointMetrics.tunnelClosed()
            let seconds = Double((NIODeadline.now() - openedAtTime).nanoseconds) / 1e9
            ServerLog.info("streampoint", "\(label) closed: \(bytesToViewer) bytes to viewer, \(bytesFromViewer) bytes from viewer, \(String(format: "%.1f", seconds)) s")
        }
        viewer?.close(promise: nil)
        agent?.close(promise: nil)
        viewer = nil
        agent = nil
        let callback = onFinished
        onFinished = nil
        callback?(self)
    }
}
