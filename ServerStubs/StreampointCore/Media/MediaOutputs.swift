import CamNIO
import MediaCore
import NIOCore
import NIOPosix
import ServerMetrics

/// The viewer-facing servers of the media pipeline: RTSP and the web port
/// (player page and fMP4 WebSocket). Both run on the registry's event loop,
/// check the viewer token, and serve from the one pull per camera target.
///
/// With `tls` (--viewer-tls-cert/--viewer-tls-key) both ports speak TLS only:
/// rtsps on the RTSP port, https and wss on the web port. One scheme per port,
/// so a viewer URL says exactly what its port speaks.
public final class MediaOutputs {
    private let registry: StreampointRegistry
    private let tls: AgentLinkTLS?

    public init(registry: StreampointRegistry, tls: AgentLinkTLS? = nil) {
        self.registry = registry
        self.tls = tls
    }

    /// The schemes viewer URLs use on these ports.
    public var rtspScheme: String { tls == nil ? "rtsp" : "rtsps" }
    public var webScheme: String { tls == nil ? "http" : "https" }
    public var webSocketScheme: String { tls == nil ? "ws" : "wss" }

    /// A viewer's way in: a valid token for this agent and target, and a
    /// registered agent that announced the target.
    func admit(_ route: ViewerRoute, counted: Bool = true) -> ViewerAdmissionResult {
        registry.eventLoop.assertInEventLoop()
        if case .failure(let refusal) = registry.viewerTokens.verify(token: route.token, agentID: route.agentID, target: route.target) {
            if counted { StreampointMetrics.viewerTokenRefused() }
            return .refuse(refusal.description)
        }
        guard registry.announcedTarget(agentID: route.agentID, name: route.target) != nil else {
            return .notFound("agent \(route.agentID) has no target \(route.target) on this streampoint (is the camera online?)")
        }
        return .admit
    }

    public func bindRTSP(host: String, port: Int) -> EventLoopFuture<Channel> {
        let table = registry.media
        return ServerBootstrap(group: registry.eventLoop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls?.addViewerHandlers(to: channel, component: "streampoint")
                    try channel.pipeline.syncOperations.addHandler(
                        RTSPViewerHandler(table: table, scheme: rtspScheme, admit: { [self] in admit($0) }))
                }
            }
            .bind(host: host, port: port)
    }

    public func bindWeb(host: String, port: Int) -> EventLoopFuture<Channel> {
        let registry = self.registry
        let hooks = MediaHTTPServer.Hooks(
            admit: { [self] route, final in admit(route, counted: final) },
            playerPage: { _ in PlayerPage.html },
            liveHandler: { route, _ in
                registry.media.stream(agentID: route.agentID, target: route.target).map(LiveViewerHandler.init(stream:))
            })
        return MediaHTTPServer.bind(host: host, port: port, group: registry.eventLoop, tls: tls, hooks: hooks)
    }
}
