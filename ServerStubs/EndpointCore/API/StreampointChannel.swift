import CamNIO
import CamProtocol
import Hummingbird
import Logging
import NIOWebSocket
@_spi(WSInternal) import WSCore

/// The endpoint's side of the streampoint channel: `GET /api/streampoint-channel`
/// upgraded to a WebSocket, opened with a token of role streampoint (checked by
/// APIAuthMiddleware before the upgrade). Up come hello and load; down go
/// the revoked set, the viewer-token keys and the camera media settings,
/// after hello and on every change.
public enum StreampointChannel {
    public static let pingSeconds: Int64 = 10
    static let helloTimeout: Duration = .seconds(10)

    /// Makes `server` upgrade `GET /api/streampoint-channel` for a valid token of
    /// role streampoint. Every other request (a wrong token, an admin token, no
    /// upgrade headers) goes to the router, whose auth middleware answers 401
    /// or 403, and whose route here answers 400 to a plain GET.
    public static func install(on server: APIServer, hub: StreampointHub, tokens: BearerTokenAuthenticator) {
        server.router.get(RouterPath(stringLiteral: APIAuthMiddleware.streampointChannelPath)) { _, _ -> Response in
            throw APIError(.badRequest, "\(APIAuthMiddleware.streampointChannelPath) is a WebSocket: send Connection: Upgrade, Upgrade: websocket")
        }
        server.upgrade = { head, channel in
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            guard APIAuthMiddleware.normalized(path) == APIAuthMiddleware.streampointChannelPath else {
                return .refuse(APIError(.badRequest, "no WebSocket at \(LogText.peer(path)); the streampoint channel is \(APIAuthMiddleware.streampointChannelPath)"))
            }
            let principal: APIPrincipal
            do {
                guard let found = try await tokens.principal(authorization: head.headers.first(name: "Authorization")) else {
                    return .refuse(APIAuthMiddleware.missingCredentials)
                }
                principal = found
            } catch let error as APIError {
                return .refuse(error)
            } catch {
                return .refuse(APIError(.serviceUnavailable, "cannot check the token now; retry later"))
            }
            guard principal.role == .streampoint else { return .refuse(APIAuthMiddleware.adminOnChannel) }
            let remote = APIRequestContext.describe(channel.remoteAddress)
            return .accept { inbound, outbound, _ in
                try await serve(inbound: inbound, outbound: outbound, tokenName: principal.name, remote: remote, hub: hub)
            }
        }
    }

    private static func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                              tokenName: String, remote: String, hub: StreampointHub) async throws {
        var messages = inbound.messages(maxSize: APIServer.maxFrame).makeAsyncIterator()
        let who = "streampoint channel from \(remote) (token \(tokenName))"
        // The first frame must be hello, within helloTimeout.
        let helloTimer = Task {
            try await Task.sleep(for: helloTimeout)
            APILog.logger.info("\(who): no hello within 10 s; closing")
            try await outbound.close(.policyViolation, reason: "hello expected")
        }
        let first = try await messages.next()
        helloTimer.cancel()
        guard let first else { return }
        guard case .text(let text) = first, case .hello(let version, let id)? = try? StreampointChannelFrame.parse(text) else {
            APILog.logger.warning("\(who): first frame is not a valid hello; closing")
            try await outbound.close(.dataInconsistentWithMessage, reason: "first frame must be hello")
            return
        }
        let (key, updates) = hub.connect(name: tokenName, id: id, remoteAddress: remote)
        APILog.logger.info("\(who): streampoint \(id) connected (channel version \(version))")
        defer {
            hub.end(key: key)
            APILog.logger.info("\(who): streampoint \(id) disconnected")
        }
        let writer = Task {
            var sentRevoked: [String]?
            var sentKeys: [ViewerTokenKey]?
            var sentCameraMedia: [CameraMediaTarget]?
            for await _ in updates {
                let (revoked, keys, cameraMedia) = hub.currentFrames
                if let revoked, revoked != sentRevoked {
                    try await outbound.write(.text(StreampointChannelFrame.revoked(Set(revoked)).text))
                    sentRevoked = revoked
                }
                if let keys, keys != sentKeys {
                    try await outbound.write(.text(StreampointChannelFrame.viewerKeys(keys).text))
                    sentKeys = keys
                }
                // Its parts back to back: nothing else is written between them.
                if let cameraMedia, cameraMedia != sentCameraMedia {
                    for frame in CameraMediaPart.frames(for: cameraMedia) {
                        try await outbound.write(.text(frame.text))
                    }
                    sentCameraMedia = cameraMedia
                }
            }
            // The hub let go without this handler ending: the endpoint is stopping.
            if !Task.isCancelled { try await outbound.close(.goingAway, reason: "endpoint shutting down") }
        }
        defer { writer.cancel() }
        while let message = try await messages.next() {
            guard case .text(let text) = message else {
                APILog.logger.warning("\(who): binary frame; closing")
                try await outbound.close(.unacceptableData, reason: "text frames only")
                return
            }
            let frame: StreampointChannelFrame
            do {
                frame = try StreampointChannelFrame.parse(text)
            } catch {
                APILog.logger.warning("\(who): malformed frame (\(error)); closing with 1007")
                try await outbound.close(.dataInconsistentWithMessage, reason: "malformed frame")
                return
            }
            switch frame {
            case .load(let load): hub.recordLoad(load, key: key)
            case .hello: APILog.logger.debug("\(who): repeated hello ignored")
            case .unknown(let type): APILog.logger.debug("\(who): unknown frame type \(bounded(type)) ignored")
            case .revoked, .viewerKeys, .cameraMedia: APILog.logger.debug("\(who): an endpoint's frame sent by a streampoint ignored")
            }
        }
    }
}
