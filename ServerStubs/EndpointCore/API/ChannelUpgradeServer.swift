import CamNIO
import HTTPTypes
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
@_spi(WSInternal) import WSCore

/// HTTP/1 with a WebSocket upgrade whose refusals carry a status and a JSON
/// error. Hummingbird's own upgrade channel answers every refused upgrade with
/// an empty 400 (NIO has consumed the request head by then, so the router
/// cannot see it); the streampoint channel must say 401 or 403 before the
/// upgrade, so that a streampoint can tell a wrong token from a wrong role.
/// Requests without upgrade headers go to the router as usual; frames are
/// handled by the same WebSocket code as Hummingbird's.
struct ChannelUpgradeServer: ServerChildChannel, HTTPChannelHandler {
    typealias Session = @Sendable (WebSocketInboundStream, WebSocketOutboundWriter, ChannelUpgradeContext) async throws -> Void
    enum Decision: Sendable {
        case accept(Session)
        case refuse(APIError)
    }
    /// Decides an upgrade request.
    typealias Decide = @Sendable (HTTPRequestHead, any Channel) async -> Decision

    enum Negotiated: Sendable {
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, Session, Logger)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, APIError)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let decide: Decide
    let maxFrameSize: Int
    let pingPeriod: Duration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let decided = NIOLockedValueBox<Decision?>(nil)
            let decide = self.decide
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: maxFrameSize,
                shouldUpgrade: { channel, head in
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        let decision = await decide(head, channel)
                        decided.withLockedValue { $0 = decision }
                        guard case .accept = decision else { return nil }
                        return HTTPHeaders()
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .accept(let session)? = decided.withLockedValue({ $0 }) else {
                            throw ChannelError.inappropriateOperationForState
                        }
                        let webSocket = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return Negotiated.webSocket(webSocket, session, logger)
                    }
                })
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    // Not an upgrade, or a refused one: the request goes on to the router.
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        if case .refuse(let error)? = decided.withLockedValue({ $0 }) { return Negotiated.refused(http, error) }
                        return Negotiated.http(http)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Negotiated>(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let error):
                try await Self.write(error, to: http)
            case .webSocket(let webSocket, let session, let logger):
                _ = try await WebSocketHandler.handle(
                    type: .server,
                    configuration: .init(extensions: [], autoPing: .enabled(timePeriod: pingPeriod), validateUTF8: true,
                                         maxFrameSize: maxFrameSize),
                    asyncChannel: webSocket, context: ChannelUpgradeContext(logger: logger), handler: session)
            }
        } catch {
            logger.debug("HTTP or WebSocket connection ended: \(error)")
        }
    }
}

extension ChannelUpgradeServer {
    /// The refusal as the router would have written it, then close: the rest
    /// of the upgrade request cannot be read as HTTP any more.
    static func write(_ error: APIError, to http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async throws {
        let body = APIResponse.encoded(["error": error.message])
        var headers = error.headers
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(body.readableBytes)
        headers[.connection] = "close"
        try await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [
                .head(HTTPResponse(status: error.status, headerFields: headers)),
                .body(body),
                .end(nil),
            ])
        }
    }
}

struct ChannelUpgradeContext: WebSocketContext {
    let logger: Logger
}
