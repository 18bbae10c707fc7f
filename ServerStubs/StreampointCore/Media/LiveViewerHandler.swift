import CamNIO
import MediaCore
import NIOCore
import NIOWebSocket
import ServerMetrics

/// One browser viewer on /live/<agent>/<target>: fMP4 over WebSocket in the
/// LivePlayerProtocol framing. Frames are taken from the viewer's bounded
/// queue only while the socket is writable, so a slow browser costs its own
/// queue (which skips to the next keyframe) and nothing else.
final class LiveViewerHandler: ChannelInboundHandler, MediaViewerOutput {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let stream: MediaStream
    private var viewer: ViewerID?
    private var context: ChannelHandlerContext?
    private var muxer: FMP4Muxer?
    private var leftOut: [Int] = []
    private var tracks: [TrackDescription] = []
    private var closing = false
    private var writtenArrivals: [UInt64] = []
    /// Largest batch written before yielding to the event loop.
    private static let writeBatch = 64

    init(stream: MediaStream) { self.stream = stream }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        StreampointMetrics.mediaViewerJoined(.web)
        viewer = stream.attach(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let viewer { stream.detach(viewer) }
        viewer = nil
        self.context = nil
        StreampointMetrics.mediaViewerLeft(.web)
    }

    // MARK: MediaViewerOutput

    func mediaAvailable() {
        guard let context, let viewer, !closing else { return }
        var written = 0
        writtenArrivals.removeAll(keepingCapacity: true)
        while context.channel.isWritable, written < Self.writeBatch, let taken = stream.take(for: viewer) {
            if write(taken.item, context: context) { writtenArrivals.append(taken.arrivedAt) }
            written += 1
        }
        if written > 0 { context.flush() }
        if !writtenArrivals.isEmpty {
            StreampointMetrics.mediaFramesWritten(.web, arrivals: writtenArrivals, now: NIODeadline.now().uptimeNanoseconds)
        }
        if written == Self.writeBatch {
            context.eventLoop.execute { [weak self] in self?.mediaAvailable() }
        } else if !context.channel.isWritable {
            stream.setWritable(viewer, false)
        }
    }

    func streamEnded(reason: String) {
        guard let context, !closing else { return }
        send(text: LivePlayerProtocol.statusMessage("stream ended: \(reason)"), context: context)
        close(context: context, code: .goingAway)
    }

    func pullProblem(_ message: String) {
        guard let context, !closing else { return }
        send(text: LivePlayerProtocol.statusMessage(message), context: context)
        context.flush()
    }

    /// Whether a media segment went out (for the added-latency histogram).
    private func write(_ item: ViewerItem, context: ChannelHandlerContext) -> Bool {
        switch item {
        case .tracks(let tracks, _):
            self.tracks = tracks
            startMuxer(tracks, context: context)
        case .discontinuity:
            // The camera's timestamps restarted: MSE cannot go back in time
            // within one init, so the player starts over on a fresh one.
            startMuxer(tracks, context: context)
        case .frame(let frame):
            guard var current = muxer, !leftOut.contains(frame.track) else { return false }
            defer { muxer = current }
            guard let segment = try? current.segment(frame) else { return false }
            send(binary: LivePlayerProtocol.mediaSegmentMessage(segment), context: context)
            return true
        }
        return false
    }

    private func startMuxer(_ tracks: [TrackDescription], context: ChannelHandlerContext) {
            do {
                let made = try FMP4Muxer.forSession(tracks)
                muxer = made.muxer
                leftOut = made.leftOut
                let note = leftOut.isEmpty ? nil : "G.711 audio is not played in the browser (MSE cannot carry it)"
                send(text: LivePlayerProtocol.initMessage(for: made.muxer, note: note), context: context)
                send(binary: LivePlayerProtocol.initSegmentMessage(made.muxer), context: context)
            } catch {
                muxer = nil
                send(text: LivePlayerProtocol.statusMessage("this stream cannot be played in a browser: \(error)"), context: context)
            }
    }

    private func send(text: String, context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(string: text)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
    }

    private func send(binary: [UInt8], context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(bytes: binary)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
    }

    // MARK: the socket

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let viewer, context.channel.isWritable { stream.setWritable(viewer, true) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            close(context: context, code: .normalClosure)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        default:
            break  // the player sends nothing else; ignored
        }
    }

    private func close(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closing else { return }
        closing = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
