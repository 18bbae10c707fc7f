import CamNIO
import CamProtocol
import Foundation
import NIOCore
import ServerMetrics

/// Last handler of every agent link (pipeline: [NIOSSLServerHandler → TLSLinkObserver]
/// → LinkKeepaliveHandler → ByteToMessageHandler(LinkDecoder) → this). Runs StreampointLinkStateMachine
/// and carries out its actions; once a data link is bound it becomes the agent
/// side of a Tunnel.
final class AgentLinkHandler: ChannelDuplexHandler {
    typealias InboundIn = LinkInbound
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let registry: StreampointRegistry
    private let keepalive: LinkKeepaliveHandler
    private var machine: StreampointLinkStateMachine
    private var remote = "?"
    private var session: (id: UInt64, agentID: String)?
    private var tunnel: Tunnel?
    private let acceptedAt = NIODeadline.now()

    init(registry: StreampointRegistry, keepalive: LinkKeepaliveHandler) {
        self.registry = registry
        self.keepalive = keepalive
        self.machine = StreampointLinkStateMachine(streampointID: registry.config.streampointID,
                                                   ticketKey: registry.config.ticketKey)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        remote = describeRemote(context.channel.remoteAddress)
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = describeRemote(context.channel.remoteAddress)
        ServerLog.debug("streampoint", "agent link from \(remote)")
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .upgraded(let request):
            perform(machine.upgraded(request), context: context)
        case .message(let message):
            perform(machine.received(message, now: UInt64(max(0, Date().timeIntervalSince1970)),
                                     revokedAgents: registry.revokedAgents), context: context)
        case .raw(let buffer):
            // Only a bound data link yields raw bytes; after a refused bind they are dropped.
            tunnel?.read(from: .agent, buffer)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        tunnel?.readComplete(from: .agent)
    }

    func read(context: ChannelHandlerContext) {
        if tunnel?.mayRead(.agent) ?? true { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        tunnel?.writabilityChanged(.agent)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            if let tunnel {
                tunnel.inputClosed(.agent)
            } else {
                // A control link or an unbound data link has no use for a half-open socket.
                ServerLog.debug("streampoint", "agent link \(remote) sent EOF; closing")
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let tunnel {
            tunnel.channelInactive(.agent)
            self.tunnel = nil
        } else if let session {
            ServerLog.info("streampoint", "control link of agent \(session.agentID) from \(remote) closed")
            registry.controlLinkClosed(sessionID: session.id, agentID: session.agentID)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? LinkDecodingError {
            if error.duringUpgrade {
                ServerLog.warn("streampoint", "rejecting \(remote): \(error.protocolError.description) (HTTP 400)")
            } else {
                ServerLog.warn("streampoint", "rejecting \(remote): \(error.protocolError.code.name): \(error.protocolError.description)")
            }
            StreampointMetrics.linkRejected(code: error.protocolError.code)
            context.reject(error)
        } else {
            ServerLog.debug("streampoint", "agent link \(remote): \(error); closing")
            context.close(promise: nil)
        }
    }

    // MARK: actions

    private func perform(_ action: StreampointLinkStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .acceptUpgrade:
            writeRaw(HTTPUpgrade.switchingResponse(), context: context)
        case .rejectUpgrade(let status, let reason, let logReason):
            ServerLog.warn("streampoint", "rejecting \(remote): \(logReason) (HTTP \(status))")
            StreampointMetrics.linkRejected(code: nil)
            var buffer = context.channel.allocator.buffer(capacity: 128)
            buffer.writeBytes(HTTPUpgrade.errorResponse(status: status, reason: reason))
            context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in context.close(promise: nil) }
        case .sendHelloAck(let server):
            context.send(.helloAck(version: ProtocolConstants.version, server: server))
        case .awaitBind:
            ServerLog.debug("streampoint", "data link from \(remote) waiting for TUNNEL_BIND")
        case .register(let agentID, let targets):
            if let keepaliveContext = try? context.pipeline.syncOperations.context(handler: keepalive) {
                keepalive.markEstablished(context: keepaliveContext)
            }
            StreampointMetrics.handshakeFinished(.control, nanoseconds: (NIODeadline.now() - acceptedAt).nanoseconds)
            let session = registry.register(agentID: agentID, targets: targets, control: context.channel,
                                             remoteAddress: remote)
            self.session = (session.sessionID, agentID)
        case .bind(let tunnelID, let token):
            switch registry.bind(tunnelID: tunnelID, bindToken: token) {
            case .success(let tunnel):
                machine.bindResolved(accepted: true)
                StreampointMetrics.handshakeFinished(.data, nanoseconds: (NIODeadline.now() - acceptedAt).nanoseconds)
                keepalive.stop()
                self.tunnel = tunnel
                context.send(.helloAck(version: ProtocolConstants.version, server: machine.serverName))
                tunnel.attach(agent: context)
            case .failure(let failure):
                machine.bindResolved(accepted: false)
                ServerLog.warn("streampoint", "rejecting data link \(remote): invalid-bind: \(failure.description)")
                StreampointMetrics.linkRejected(code: .invalidBind)
                context.fail(.invalidBind, "tunnel bind refused: \(failure.description)")
            }
        case .tunnelOpenFailed(let tunnelID, let code, let message):
            if let session { registry.tunnelOpenFailed(sessionID: session.id, tunnelID: tunnelID, code: code, message: message) }
        case .ignore:
            break
        case .fail(let code, let text):
            ServerLog.warn("streampoint", "rejecting \(remote): \(code.name): \(text)")
            StreampointMetrics.linkRejected(code: code)
            context.fail(code, text)
        case .peerError(let code, let text):
            ServerLog.warn("streampoint", "\(remote) sent ERROR \(code.name): \(text); closing")
            context.close(promise: nil)
        }
    }

    private func writeRaw(_ bytes: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }
}
