import CamNIO
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import MediaCore
import NIOWebSocket

/// The viewers' HTTP port: the player page at /play/<agent>/<target> and the
/// fMP4 WebSocket at /live/<agent>/<target>, both behind a viewer token.
///
/// Bare NIO rather than Hummingbird: every viewer's queue lives on the
/// registry's one event loop beside the stream it reads, and is drained by
/// channel writability; an async router would put a task hop and a second
/// buffer between the two.
public enum MediaHTTPServer {
    /// What the server needs from the rest of the streampoint.
    public struct Hooks: Sendable {
        /// Whether the route's token admits the viewer (called on the event loop).
        /// `final` is false for the WebSocket upgrade's look ahead: a refusal is
        /// then answered, and counted, by the plain request handler.
        public var admit: @Sendable (ViewerRoute, _ final: Bool) -> ViewerAdmissionResult
        /// The player page for an admitted /play route.
        public var playerPage: @Sendable (ViewerRoute) -> String
        /// The handler that serves an admitted /live WebSocket; nil when the stream went away meanwhile.
        public var liveHandler: @Sendable (ViewerRoute, Channel) -> ChannelHandler?

        public init(admit: @escaping @Sendable (ViewerRoute, _ final: Bool) -> ViewerAdmissionResult,
                    playerPage: @escaping @Sendable (ViewerRoute) -> String,
                    liveHandler: @escaping @Sendable (ViewerRoute, Channel) -> ChannelHandler?) {
            self.admit = admit
            self.playerPage = playerPage
            self.liveHandler = liveHandler
        }
    }

    static let idleTimeout: TimeAmount = .seconds(60)

    /// Largest frame a player may send us; it only ever sends close and pong.
    static let maxInboundFrame = 4096

    /// `tls`: the port speaks https and wss only (the TLS handshake must finish within 10 s).
    public static func bind(host: String, port: Int, group: EventLoopGroup, tls: AgentLinkTLS? = nil,
                            hooks: Hooks) -> EventLoopFuture<Channel> {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: maxInboundFrame,
                    shouldUpgrade: { channel, head in
                        guard case .success(let route) = ViewerRoute.http(head.uri, authorization: head.headers.first(name: "authorization")),
                              route.kind == .live, case .admit = hooks.admit(route, false)
                        else { return channel.eventLoop.makeSucceededFuture(nil) }
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    },
                    upgradePipelineHandler: { channel, head in
                        guard case .success(let route) = ViewerRoute.http(head.uri, authorization: head.headers.first(name: "authorization")) else {
                            return channel.close()
                        }
                        guard let handler = hooks.liveHandler(route, channel) else { return channel.close() }
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    })
                let http = MediaHTTPHandler(hooks: hooks)
                // Nothing read or written for a minute (an idle keep-alive, a
                // viewer stalled that long): the connection goes.
                let idle = IdleStateHandler(allTimeout: idleTimeout)
                do {
                    try tls?.addViewerHandlers(to: channel, component: "streampoint")
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                return channel.pipeline.addHandlers([idle, IdleConnectionCloser()]).flatMap {
                    channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                        context.pipeline.removeHandler(http, promise: nil)
                    })
                    ).flatMap { channel.pipeline.addHandler(http) }
                }
            }
            .bind(host: host, port: port)
    }
}

/// Closes the connection when IdleStateHandler says it has been idle.
final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Admission of one viewer request: the token's verdict.
public enum ViewerAdmissionResult: Sendable, Equatable {
    case admit
    /// 401, with the reason in the body (never the token).
    case refuse(String)
    /// 404: the agent or target is not served here.
    case notFound(String)
}

/// Plain HTTP requests on the viewers' port: the player page, and the answers
/// to everything that is not an admitted WebSocket upgrade.
final class MediaHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hooks: MediaHTTPServer.Hooks
    private var head: HTTPRequestHead?

    init(hooks: MediaHTTPServer.Hooks) { self.hooks = hooks }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // viewers send no bodies; whatever comes is dropped
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else {
            return send(context, head, .methodNotAllowed, json: "use GET", extra: [("Allow", "GET, HEAD")])
        }
        let route: ViewerRoute
        switch ViewerRoute.http(head.uri, authorization: head.headers.first(name: "authorization")) {
        case .success(let parsed): route = parsed
        case .failure(let failure): return send(context, head, .notFound, json: failure.description)
        }
        switch hooks.admit(route, true) {
        case .refuse(let reason):
            return send(context, head, .unauthorized, json: reason,
                        extra: [("WWW-Authenticate", #"Bearer realm="camagent viewer""#)])
        case .notFound(let reason):
            return send(context, head, .notFound, json: reason)
        case .admit:
            break
        }
        switch route.kind {
        case .player:
            send(context, head, .ok, body: hooks.playerPage(route), contentType: "text/html; charset=utf-8",
                 extra: [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                         ("Content-Security-Policy", PlayerPage.contentSecurityPolicy)])
        case .live:
            send(context, head, .badRequest, json: "this URL is a WebSocket: connect with a WebSocket client (the player page does)")
        case .rtsp:
            send(context, head, .notFound, json: "not an HTTP path")
        case .recordedRanges, .playback, .export:
            send(context, head, .notFound, json: "this streampoint keeps no recordings (it runs without --recordings)")
        }
    }

    private func send(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ status: HTTPResponseStatus,
                      json message: String, extra: [(String, String)] = []) {
        let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        send(context, head, status, body: "{\"error\":\"\(escaped)\"}\n", contentType: "application/json", extra: extra)
    }

    private func send(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                      body: String, contentType: String, extra: [(String, String)] = []) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.utf8.count)")])
        for (name, value) in extra { headers.add(name: name, value: value) }
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A refused WebSocket upgrade is reported as an error before the request
        // itself comes on to this handler, which then answers it (401 or 404).
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }
}
