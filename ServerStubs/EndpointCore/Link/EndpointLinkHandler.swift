import CamNIO
import CamProtocol
import NIOCore
import ServerMetrics

/// Drives one agent link: feeds what LinkDecoder yields into the
/// EndpointLinkStateMachine and performs the actions it returns.
/// Pipeline: [NIOSSLServerHandler → TLSLinkObserver with --tls-cert] → LinkKeepaliveHandler →
/// ByteToMessageHandler(LinkDecoder) → this.
final class EndpointLinkHandler: ChannelInboundHandler {
    typealias InboundIn = LinkInbound
    typealias OutboundOut = ByteBuffer

    private let state: EndpointState
    private let keepalive: LinkKeepaliveHandler
    private var machine: EndpointLinkStateMachine
    private var context: ChannelHandlerContext?
    /// Why we closed the link, for the closing log line.
    private var closeReason: String?
    let remote: String
    /// How this link's login or activation went, for the metrics.
    private var outcome = LinkOutcome()

    init(state: EndpointState, keepalive: LinkKeepaliveHandler, remote: String) {
        self.state = state
        self.keepalive = keepalive
        self.remote = remote
        self.machine = EndpointLinkStateMachine(configuration: state.settings.link,
                                                remoteHost: HostPort(remote)?.host ?? remote)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Debug only: agents on a backup endpoint connect now and then just to
        // see whether this one answers (isReachabilityCheck).
        ServerLog.debug(component, "\(remote): connected")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let inbound = unwrapInboundIn(data)
        if heldInbound != nil {
            heldInbound!.append(inbound)
            return
        }
        handle(inbound, context: context)
    }

    private func handle(_ inbound: LinkInbound, context: ChannelHandlerContext) {
        let action: EndpointLinkStateMachine.Action
        switch inbound {
        case .upgraded(let request):
            action = machine.upgradeReceived(path: request.path)
        case .message(let message):
            if let agentID = machine.agentID { state.seen(agentID: agentID, handler: self) }
            outcome.received(message)
            ServerLog.debug(component, "\(remote): received \(message.name) in state \(machine.stateName)")
            if Self.readsRegistry(message) {
                // The registry copy must be current first: a unit activated or
                // revoked at another endpoint a moment ago logs in here now.
                hold()
                state.refreshForLogin().whenComplete { result in
                    guard let context = self.context else { return }
                    switch result {
                    case .success:
                        self.perform(self.machine.messageReceived(message, directory: LiveDirectory(state: self.state)), context: context)
                    case .failure:
                        self.refuseRetryably(context: context)
                    }
                    self.resume(context: context)
                }
                return
            }
            action = machine.messageReceived(message, directory: LiveDirectory(state: state))
        case .raw:
            // Only a tunnel data link turns raw, and TUNNEL_BIND already closed this one.
            action = .none
        }
        perform(action, context: context)
    }

    private static func readsRegistry(_ message: Message) -> Bool {
        switch message {
        case .authBegin, .activateBegin: return true
        default: return false
        }
    }

    /// Messages that arrive while the registry answers wait here, in order.
    private var heldInbound: [LinkInbound]?

    private func hold() {
        if heldInbound == nil { heldInbound = [] }
    }

    private func resume(context: ChannelHandlerContext) {
        guard var queue = heldInbound else { return }
        heldInbound = nil
        while !queue.isEmpty && heldInbound == nil && self.context != nil {
            handle(queue.removeFirst(), context: context)
        }
        if heldInbound != nil { heldInbound = queue + heldInbound! }
    }

    /// The registry cannot be reached: a retryable refusal, so the agent backs
    /// off and tries again (here or at another endpoint).
    private func refuseRetryably(context: ChannelHandlerContext) {
        machine.closed()
        perform(.closeWithError(code: .internalError, text: "registry unavailable; retry later",
                                reason: "registry unavailable (\(state.registryProblem ?? "no answer")); login refused, retryable"),
                context: context)
    }

    private func perform(_ action: EndpointLinkStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .acceptUpgrade:
            write(HTTPUpgrade.switchingResponse(), context: context)
        case .rejectUpgrade(let status, let statusText, let reason):
            ServerLog.warn(component, "\(remote): rejected: \(reason)")
            outcome.refused(.protocolError)
            closeReason = "HTTP \(status): \(reason)"
            var buffer = context.channel.allocator.buffer(capacity: 128)
            buffer.writeBytes(HTTPUpgrade.errorResponse(status: status, reason: statusText))
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
        case .send(let message):
            context.send(message)
        case .closeWithError(let code, let text, let reason):
            ServerLog.warn(component, "\(remote)\(agentLabel): rejected (\(code.name)): \(reason)")
            if establishedAgent == nil { outcome.refused(EndpointMetrics.Refusal(code: code)) }
            closeReason = "\(code.name): \(reason)"
            context.fail(code, text)
        case .authenticated(let agentID, let reply):
            state.authenticationSucceeded(agentID: agentID, host: machine.remoteHost)
            hold()
            state.claimSession(agentID: agentID, host: machine.remoteHost, remote: remote).whenComplete { result in
                guard let context = self.context else { return }
                switch result {
                case .success(let claim):
                    if let revocation = claim.revoked {
                        self.machine.closed()
                        self.perform(.closeWithError(code: .revoked, text: revocation.errorText,
                                                     reason: "agent \(agentID) is revoked: \(bounded(revocation.reason))"), context: context)
                    } else {
                        self.sessionEstablished(agentID: agentID, reply: reply, context: context)
                    }
                case .failure(let error):
                    self.state.registryFailed(error)
                    self.refuseRetryably(context: context)
                }
                self.resume(context: context)
            }
        case .agentInfo(let agentID, let software, let buildTarget, let serial, let mac, let model):
            state.agentInfo(agentID: agentID, software: software, buildTarget: buildTarget, serial: serial, mac: mac, model: model)
        case .agentStats(let agentID, let report):
            state.statsReceived(agentID: agentID, report: report)
        case .commandResult(let agentID, let commandID, let code, let message):
            state.commandResultReceived(agentID: agentID, commandID: commandID, code: code, message: message)
        case .ticketRequested(let agentID):
            ServerLog.info(component, "\(remote): agent \(agentID) asked for a fresh ticket")
            context.send(state.assignment(for: agentID))
        case .attemptFailed(let subject, let text, let reason):
            state.attemptFailed(subject)
            perform(.closeWithError(code: .authenticationFailed, text: text, reason: reason), context: context)
        case .activationProved(let subject, let request):
            hold()
            state.activate(request, subject: subject, remote: remote).whenSuccess { outcome in
                guard let context = self.context else { return }
                self.perform(self.machine.activationDecided(outcome), context: context)
                self.resume(context: context)
            }
        case .activated(let agentID, let serial, let reactivated, let reply):
            closeReason = "sent ACTIVATED; the unit logs in again with its new identity"
            outcome.activated()
            ServerLog.info(component, "\(remote): \(reactivated ? "re-activated" : "activated") unit \(serial) as agent \(agentID); new device key issued")
            let bytes = reply.encoded()
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
        case .peerClosed(let code, let text):
            ServerLog.info(component, "\(remote)\(agentLabel): peer sent ERROR \(code.name): \(bounded(text))")
            closeReason = "peer sent ERROR \(code.name)"
            context.close(promise: nil)
        }
    }

    private func sessionEstablished(agentID: String, reply: Message, context: ChannelHandlerContext) {
        establishedAgent = agentID
        outcome.loggedIn()
        ServerLog.info(component, "\(remote): agent \(agentID) authenticated")
        context.send(reply)
        if let keepaliveContext = try? context.pipeline.syncOperations.context(handler: keepalive) {
            keepalive.markEstablished(context: keepaliveContext)
        }
        state.sessionAuthenticated(agentID: agentID, handler: self, remote: remote)
    }

    private var agentLabel: String {
        establishedAgent.map { " (agent \($0))" } ?? ""
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: called by EndpointState

    /// Sends a message on an established link (streampoint assignment).
    func push(_ message: Message) {
        guard let context, machine.isEstablished else { return }
        context.send(message)
    }

    /// A newer session of the same agent took over.
    func replaced() {
        closeWithError(.shuttingDown, "replaced by a newer session")
    }

    /// Closes without an ERROR: the agent has left on its own (a reset).
    func closeQuietly(reason: String) {
        guard let context else { return }
        closeReason = reason
        machine.closed()
        context.close(promise: nil)
    }

    func closeWithError(_ code: ErrorCode, _ text: String) {
        guard let context else { return }
        closeReason = "\(code.name): \(text)"
        machine.closed()
        context.fail(code, text)
    }

    // MARK: errors and closing

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let linkError = error as? LinkDecodingError {
            let what = linkError.protocolError
            ServerLog.warn(component, "\(remote)\(agentLabel): rejected (\(linkError.duringUpgrade ? "HTTP 400" : what.code.name)): \(what.description)")
            closeReason = linkError.duringUpgrade ? "HTTP 400: \(what.description)" : "\(what.code.name): \(what.description)"
            if establishedAgent == nil { outcome.refused(.protocolError) }
            machine.closed()
            context.reject(linkError)
        } else {
            ServerLog.debug(component, "\(remote)\(agentLabel): \(error)")
            if closeReason == nil { closeReason = "connection error: \(error)" }
            if machine.isReachabilityCheck { endedAsReachabilityCheck = true }
            machine.closed()
            context.close(promise: nil)
        }
    }

    /// Set when a reachability check ended in a connection error (a reset).
    private var endedAsReachabilityCheck = false

    func channelInactive(context: ChannelHandlerContext) {
        let reason = closeReason ?? "connection closed"
        if let agentID = establishedAgent {
            state.sessionClosed(agentID: agentID, handler: self)
            ServerLog.info(component, "\(remote): agent \(agentID) disconnected (\(reason))")
        } else if machine.isReachabilityCheck || endedAsReachabilityCheck {
            // A check may end with a reset (the checker closed with our HELLO_ACK
            // unread): still a check, not a failed or broken login.
            ServerLog.debug(component, "\(remote): answered a reachability check (HELLO only)")
        } else {
            outcome.closedBeforeLogin()
            ServerLog.info(component, "\(remote): closed before authenticating (\(reason))")
        }
        machine.closed()
        self.context = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The agent id once authenticated, remembered after the machine is closed.
    private var establishedAgent: String?
}
