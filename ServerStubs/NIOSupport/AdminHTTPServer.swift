import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One admin request, already read whole (bodies are capped at 64 KiB).
public struct AdminRequest {
    public var method: HTTPMethod
    public var path: String
    public var body: Data
}

public struct AdminResponse: Sendable {
    public var status: HTTPResponseStatus
    public var body: Data

    public init(status: HTTPResponseStatus = .ok, body: Data) {
        self.status = status
        self.body = body
    }

    public static func json<T: Encodable>(_ value: T, status: HTTPResponseStatus = .ok) -> AdminResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return AdminResponse(status: status, body: data + Data("\n".utf8))
    }

    public static func error(_ status: HTTPResponseStatus, _ message: String) -> AdminResponse {
        json(["error": message], status: status)
    }
}

/// The small JSON-over-HTTP admin API both servers expose. Routing is the
/// caller's closure, run on the event loop of the connection.
public final class AdminHTTPServer {
    public typealias Route = (AdminRequest) -> AdminResponse
    /// A route that may answer later (an agent's reply it waits for); the
    /// future must complete on the connection's event loop or any other.
    public typealias DeferredRoute = (AdminRequest, EventLoop) -> EventLoopFuture<AdminResponse>

    private let group: EventLoopGroup
    private let route: DeferredRoute

    public init(group: EventLoopGroup, route: @escaping Route) {
        self.group = group
        self.route = { request, loop in loop.makeSucceededFuture(route(request)) }
    }

    public init(group: EventLoopGroup, deferredRoute: @escaping DeferredRoute) {
        self.group = group
        self.route = deferredRoute
    }

    public func bind(host: String, port: Int) throws -> Channel {
        let route = self.route
        return try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(AdminHandler(route: route))
                }
            }
            .bind(host: host, port: port).wait()
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let maxBody = 64 * 1024
    private let route: AdminHTTPServer.DeferredRoute
    private var head: HTTPRequestHead?
    private var body = Data()
    private var tooLarge = false

    init(route: @escaping AdminHTTPServer.DeferredRoute) { self.route = route }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = Data()
            tooLarge = false
        case .body(var chunk):
            if body.count + chunk.readableBytes > Self.maxBody {
                tooLarge = true
            } else if let bytes = chunk.readBytes(length: chunk.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(.error(.payloadTooLarge, "request body exceeds 64 KiB"), keepAlive: head.isKeepAlive, context: context)
                return
            }
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
            let answer = route(AdminRequest(method: head.method, path: path, body: body), context.eventLoop)
            // The HTTP pipeline handler holds further requests of this connection
            // until this response ends, so answers never overtake one another.
            answer.hop(to: context.eventLoop).whenComplete { result in
                guard context.channel.isActive else { return }
                switch result {
                case .success(let response):
                    self.write(response, keepAlive: head.isKeepAlive, context: context)
                case .failure(let error):
                    self.write(.error(.internalServerError, "\(error)"), keepAlive: head.isKeepAlive, context: context)
                }
            }
        }
    }

    private func write(_ response: AdminResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
