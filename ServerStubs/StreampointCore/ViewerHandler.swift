import CamNIO
import CamProtocol
import NIOCore
import ServerMetrics

/// The only handler of a viewer connection (ffprobe, curl, a browser…) accepted
/// on a target listener. Asks the registry for a tunnel, then forwards every
/// event to it.
final class ViewerHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let registry: StreampointRegistry
    private let sessionID: UInt64
    private let agentID: String
    private let target: TunnelTarget
    /// Set for the streampoint's own media pull, whose socket has no remote address.
    private let fixedViewerAddress: String?
    /// Behind a PassthroughGateHandler the tunnel waits for its PassthroughAdmitted.
    private let waitsForAdmission: Bool
    private var tunnel: Tunnel?

    init(registry: StreampointRegistry, sessionID: UInt64, agentID: String, target: TunnelTarget,
         viewerAddress: String? = nil, waitsForAdmission: Bool = false) {
        self.registry = registry
        self.sessionID = sessionID
        self.agentID = agentID
        self.target = target
        self.fixedViewerAddress = viewerAddress
        self.waitsForAdmission = waitsForAdmission
    }

    /// The streampoint's own pull is not a viewer of the viewer ports.
    private var countsAsViewer: Bool { fixedViewerAddress == nil }

    func channelActive(context: ChannelHandlerContext) {
        if countsAsViewer { StreampointMetrics.viewerConnected() }
        if !waitsForAdmission { openTunnel(context: context) }
        context.fireChannelActive()
    }

    private func openTunnel(context: ChannelHandlerContext) {
        let viewer = fixedViewerAddress ?? describeRemote(context.channel.remoteAddress)
        tunnel = registry.openTunnel(sessionID: sessionID, agentID: agentID, target: target,
                                     viewer: context, viewerAddress: viewer)
        if tunnel == nil { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        tunnel?.read(from: .viewer, unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        tunnel?.readComplete(from: .viewer)
    }

    func read(context: ChannelHandlerContext) {
        if tunnel?.mayRead(.viewer) ?? true { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        tunnel?.writabilityChanged(.viewer)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is PassthroughAdmitted {
            if waitsForAdmission, tunnel == nil { openTunnel(context: context) }
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            if let tunnel { tunnel.inputClosed(.viewer) } else { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if countsAsViewer { StreampointMetrics.viewerDisconnected() }
        tunnel?.channelInactive(.viewer)
        tunnel = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        ServerLog.debug("streampoint", "viewer \(describeRemote(context.channel.remoteAddress)): \(error); closing")
        context.close(promise: nil)
    }
}
