import CamNIO
import Foundation
import NIOCore
import ServerMetrics

/// Sent inbound to ViewerHandler once the gate has admitted the viewer: open the tunnel now.
struct PassthroughAdmitted {}

/// First handler of a viewer connection on an HTTP or RTSP passthrough port.
/// Reads the first request head (at most 16 KiB within 10 s), has
/// PassthroughGate judge its viewer token, then either answers 401 (or 400,
/// 408, 431) and closes, or tells ViewerHandler to open the tunnel and passes
/// on the head without the token. It then leaves the pipeline (for HTTP after
/// adding its cookie to the camera's first response), so an admitted
/// connection is spliced by ViewerHandler alone, exactly as before.
final class PassthroughGateHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case readingHead
        /// Admitted; waiting for the camera's first response line to add the cookie after.
        case addingCookie([UInt8])
        /// Done: everything passes (for the moment until the handler has left).
        case passing
        case refused
    }

    /// Bytes of the camera's first response held while looking for the end of its status line.
    static let maxStatusLineBytes = 8192

    private let gate: PassthroughGate
    private let verifier: ViewerTokenVerifier
    private var state = State.readingHead
    private var received: [UInt8] = []
    private var deadline: Scheduled<Void>?
    private var held: ByteBuffer?
    private var heldPromises: [EventLoopPromise<Void>] = []
    /// Given back once the head is judged, or the connection goes.
    private let pending: PendingLinkSlot?

    init(gate: PassthroughGate, verifier: ViewerTokenVerifier, pending: PendingLinkSlot? = nil) {
        self.gate = gate
        self.verifier = verifier
        self.pending = pending
    }

    private var label: String { "agent \(gate.agentID) target \(gate.target)" }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.scheduleTask(in: .seconds(PassthroughGate.headTimeoutSeconds)) { [weak self] () -> Void in
            guard let self, case .readingHead = self.state else { return }
            self.refuse(self.gate.timedOut(), context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        pending?.release()
        releaseHeld(context: context)
    }

    // MARK: inbound: the viewer's first request

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .readingHead = state else {
            if case .refused = state { return }
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        received += buffer.readableBytesView
        switch PassthroughGate.scan(received) {
        case .needMore:
            return
        case .tooLarge:
            refuse(gate.tooLarge(), context: context)
        case .complete(let length):
            let now = UInt64(max(0, Date().timeIntervalSince1970))
            let decision = gate.decide(head: Array(received[..<length]), now: now) { [gate, verifier] token in
                verifier.verify(token: token, agentID: gate.agentID, target: gate.target, now: now)
            }
            switch decision {
            case .refuse:
                refuse(decision, context: context)
            case .admit(let head, let setCookie):
                deadline?.cancel()
                deadline = nil
                pending?.release()
                var forward = context.channel.allocator.buffer(capacity: head.count + received.count - length)
                forward.writeBytes(head)
                forward.writeBytes(received[length...])
                received = []
                state = setCookie.map(State.addingCookie) ?? .passing
                context.fireUserInboundEventTriggered(PassthroughAdmitted())
                context.fireChannelRead(wrapInboundOut(forward))
                context.fireChannelReadComplete()
                if case .passing = state, context.channel.isActive {
                    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard case .readingHead = state else {
            if case .refused = state { return }
            context.fireChannelReadComplete()
            return
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .readingHead = state, let event = event as? ChannelEvent, event == .inputClosed {
            // Half a head and then EOF: nothing to forward, nobody to answer.
            state = .refused
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        pending?.release()
        for promise in heldPromises { promise.fail(ChannelError.ioOnClosedChannel) }
        heldPromises = []
        held = nil
        context.fireChannelInactive()
    }

    private func refuse(_ decision: PassthroughGate.Decision, context: ChannelHandlerContext) {
        guard case .refuse(let response, let reason, let tokenRefused) = decision, case .readingHead = state else { return }
        state = .refused
        deadline?.cancel()
        deadline = nil
        received = []
        if tokenRefused { StreampointMetrics.viewerTokenRefused() }
        ServerLog.info("streampoint", "refusing passthrough viewer \(describeRemote(context.channel.remoteAddress)) for \(label): \(reason)")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: response))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: outbound: the camera's first response gets the cookie

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .addingCookie(let cookie) = state else {
            context.write(data, promise: promise)
            return
        }
        var buffer = unwrapOutboundIn(data)
        if held == nil, buffer.readableBytes == 0 {
            // A drain marker (Tunnel writes an empty buffer to learn when the socket took everything).
            context.write(data, promise: promise)
            return
        }
        if held == nil { held = context.channel.allocator.buffer(capacity: buffer.readableBytes + cookie.count) }
        held!.writeBuffer(&buffer)
        if let promise { heldPromises.append(promise) }
        let view = held!.readableBytesView
        if let newline = view.firstIndex(of: 0x0A) {
            let split = newline - view.startIndex + 1
            var combined = context.channel.allocator.buffer(capacity: view.count + cookie.count)
            if view.starts(with: Array("HTTP/".utf8)) {
                combined.writeBytes(view.prefix(split))
                combined.writeBytes(cookie)
                combined.writeBytes(view.dropFirst(split))
            } else {
                combined.writeBytes(view)  // not an HTTP response: passed on untouched
            }
            held = nil
            sendCombined(combined, context: context)
        } else if view.count >= Self.maxStatusLineBytes {
            let untouched = held!
            held = nil
            sendCombined(untouched, context: context)
        }
    }

    private func sendCombined(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        let promises = heldPromises
        heldPromises = []
        let written = context.eventLoop.makePromise(of: Void.self)
        for promise in promises { written.futureResult.cascade(to: promise) }
        state = .passing
        // A flush may have passed while the bytes were held.
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Leaving with a partial first line held (the connection is going): pass it on as it is.
    private func releaseHeld(context: ChannelHandlerContext) {
        guard let buffer = held else { return }
        held = nil
        let promises = heldPromises
        heldPromises = []
        let written = context.eventLoop.makePromise(of: Void.self)
        for promise in promises { written.futureResult.cascade(to: promise) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
    }
}
