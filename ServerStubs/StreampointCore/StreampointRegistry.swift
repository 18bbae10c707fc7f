import CamNIO
import CamProtocol
import Foundation
import NIOCore
import NIOPosix
import ServerMetrics

/// All streampoint state. Only touched on the single event loop, so no locks.
public final class StreampointRegistry {
    let config: StreampointConfig
    let eventLoop: EventLoop
    private(set) var sessions: [String: AgentSession] = [:]
    private(set) var tunnels: [UInt32: Tunnel] = [:]
    private var ports: ViewerPortAllocator
    private var nextSessionID: UInt64 = 1
    private var tunnelIDs = TunnelIDAllocator()
    private var random = SystemRandomNumberGenerator()
    /// The endpoint's revoked set, from the streampoint channel; kept while the channel is down.
    private(set) var revokedAgents: Set<String> = []
    private var bytesToViewersOfClosedTunnels: UInt64 = 0
    private var bytesFromViewersOfClosedTunnels: UInt64 = 0
    let startedAt = Date()
    /// One media pull per camera target, shared by every RTSP and browser viewer.
    public private(set) lazy var media = MediaStreamTable(registry: self, linger: config.mediaLinger)
    /// Checks viewer tokens with the keys from the streampoint channel; thread-safe,
    /// so viewer outputs on any event loop may call it.
    public let viewerTokens = ViewerTokenVerifier()
    /// Passthrough connections still reading their first request (no token
    /// checked yet): bounded, in all and per address, so strangers cannot
    /// hold the process's descriptors; the agents' links share them.
    let passthroughPending = PendingLinkBudget(limit: PassthroughGate.maxPendingConnections,
                                               perAddressLimit: PassthroughGate.maxPendingConnectionsPerAddress)

    public init(config: StreampointConfig, eventLoop: EventLoop) {
        self.config = config
        self.eventLoop = eventLoop
        self.ports = ViewerPortAllocator(base: config.viewerPortBase)
    }

    /// The target `name` of a registered, announced agent.
    func announcedTarget(agentID: String, name: String) -> TunnelTarget? {
        guard let session = sessions[agentID], session.isActive, session.isAnnounced else { return nil }
        return session.targets.first { $0.target.name == name }?.target
    }

    // MARK: agents

    /// A control link presented a valid ticket. Replaces any older session of the
    /// same agent, binds one viewer listener per target, then prints the URLs and
    /// answers STREAM_REGISTERED.
    func register(agentID: String, targets: [TunnelTarget], control: Channel, remoteAddress: String) -> AgentSession {
        eventLoop.assertInEventLoop()
        if let old = sessions[agentID] {
            ServerLog.info("streampoint", "agent \(agentID) registered again from \(remoteAddress); replacing its session from \(old.remoteAddress)")
            end(old, reason: "replaced by a newer registration")
            old.control.close(promise: nil)
        }
        let session = AgentSession(sessionID: nextSessionID, agentID: agentID, remoteAddress: remoteAddress,
                                   control: control, targets: targets)
        nextSessionID += 1
        sessions[agentID] = session
        StreampointMetrics.registered()
        StreampointMetrics.agentsRegistered(sessions.count)

        // One target after the other, so that with --viewer-port-base the ports follow the target order.
        var binds: [EventLoopFuture<Void>] = []
        var previous = eventLoop.makeSucceededVoidFuture()
        for listener in session.targets {
            let promise = eventLoop.makePromise(of: Void.self)
            previous.whenComplete { [self] _ in
                bindListener(session: session, listener: listener, from: nil, attempt: 1, promise: promise)
            }
            previous = promise.futureResult
            binds.append(promise.futureResult)
        }
        EventLoopFuture.whenAllComplete(binds, on: eventLoop).whenSuccess { [self] results in
            guard session.isActive else { return }
            var summary: [String] = []
            for (listener, result) in zip(session.targets, results) {
                switch result {
                case .success:
                    let url = listener.url ?? "?"
                    print("streampoint: agent \(agentID) target \(listener.target.name) at \(url)")
                    summary.append("\(listener.target.name) \(listener.target.host):\(listener.target.port) -> \(url)")
                case .failure(let error):
                    ServerLog.error("streampoint", "agent \(agentID): no viewer listener for target \(listener.target.name): \(error)")
                }
            }
            fflush(stdout)
            ServerLog.info("streampoint", "agent \(agentID) registered from \(remoteAddress); targets: \(summary.isEmpty ? "none" : summary.joined(separator: ", "))")
            session.isAnnounced = true
            session.send(.streamRegistered(streampointID: config.streampointID))
        }
        return session
    }

    /// The control link of `sessionID` closed.
    func controlLinkClosed(sessionID: UInt64, agentID: String) {
        guard let session = sessions[agentID], session.sessionID == sessionID else { return }
        end(session, reason: "its control link closed")
    }

    func isCurrent(sessionID: UInt64, agentID: String) -> Bool {
        sessions[agentID]?.sessionID == sessionID
    }

    private func end(_ session: AgentSession, reason: String) {
        guard session.isActive else { return }
        session.isActive = false
        if sessions[session.agentID] === session { sessions[session.agentID] = nil }
        StreampointMetrics.agentsRegistered(sessions.count)
        var listeners = 0
        for listener in session.targets {
            if let channel = listener.channel {
                channel.close(promise: nil)
                listeners += 1
            }
            listener.channel = nil
        }
        let pending = tunnels.values.filter { $0.sessionID == session.sessionID && $0.state == .pending }
        for tunnel in pending {
            tunnel.abortPending(reason: "agent \(session.agentID) left (\(reason))", failure: .agentLeft)
        }
        media.agentGone(session.agentID, reason: reason)
        ServerLog.info("streampoint", "agent \(session.agentID) from \(session.remoteAddress) deregistered: \(reason); closed \(listeners) viewer listener(s) and \(pending.count) pending tunnel(s)")
    }

    // MARK: revocation and load (the streampoint channel)

    /// Replaces the revoked set. Every agent in it loses its control link (after
    /// ERROR revoked), its viewer ports, and every tunnel with its viewer, at once.
    public func applyRevoked(_ revoked: Set<String>) {
        eventLoop.assertInEventLoop()
        revokedAgents = revoked
        let plan = RevocationPlan.make(revoked: revoked, registeredAgents: sessions.keys,
                                       tunnels: tunnels.values.map { (id: $0.id, agentID: $0.agentID) })
        guard !plan.isEmpty else { return }
        var closedTunnels: [String: Int] = [:]
        for id in plan.tunnelsToClose {
            guard let tunnel = tunnels[id] else { continue }
            closedTunnels[tunnel.agentID, default: 0] += 1
            tunnel.terminate(reason: "agent \(tunnel.agentID) is revoked")
        }
        for agentID in plan.sessionsToEnd {
            guard let session = sessions[agentID] else { continue }
            session.send(.error(code: .revoked, message: StreampointLinkStateMachine.revokedText))
            end(session, reason: "revoked at the endpoint")
            session.control.close(promise: nil)
        }
        for agentID in Set(plan.sessionsToEnd).union(closedTunnels.keys).sorted() {
            ServerLog.info("streampoint", "agent \(agentID) revoked at the endpoint: "
                + (plan.sessionsToEnd.contains(agentID) ? "closed its control link and viewer ports" : "it had no session")
                + ", closed \(closedTunnels[agentID] ?? 0) tunnel(s) with their viewers")
        }
    }

    /// The figures the streampoint channel reports: viewers are the viewer connections, one per tunnel.
    public func load() -> StreampointLoad {
        var toViewers = bytesToViewersOfClosedTunnels
        var fromViewers = bytesFromViewersOfClosedTunnels
        for tunnel in tunnels.values {
            toViewers &+= tunnel.bytesToViewer
            fromViewers &+= tunnel.bytesFromViewer
        }
        return StreampointLoad(agents: Int64(sessions.count), tunnels: Int64(tunnels.count), viewers: Int64(tunnels.count),
                               bytesToViewers: Int64(clamping: toViewers), bytesFromViewers: Int64(clamping: fromViewers))
    }

    // MARK: viewer listeners

    private func bindListener(session: AgentSession, listener: TargetListener, from: Int?, attempt: Int,
                              promise: EventLoopPromise<Void>) {
        guard session.isActive else {
            promise.fail(ValidationFailure("agent left"))
            return
        }
        let kind = PassthroughProtocol(targetName: listener.target.name)
        let gated = !config.passthroughOpen
        guard kind != .raw || !gated else {
            promise.fail(ValidationFailure("target \(listener.target.name) is raw TCP (neither http nor rtsp), so no viewer token can be checked on it: it gets no viewer port without --passthrough-open"))
            return
        }
        guard let port = ports.reserve(from: from) else {
            promise.fail(ValidationFailure("no free viewer port at or above \(config.viewerPortBase)"))
            return
        }
        let target = listener.target
        let sessionID = session.sessionID
        let agentID = session.agentID
        let verifier = viewerTokens
        ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if gated {
                        guard let slot = passthroughPending.admit(channel, component: "streampoint") else {
                            channel.close(promise: nil)
                            return
                        }
                        let gate = PassthroughGate(proto: kind, agentID: agentID, target: target.name)
                        try channel.pipeline.syncOperations.addHandler(PassthroughGateHandler(gate: gate, verifier: verifier, pending: slot))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ViewerHandler(registry: self, sessionID: sessionID, agentID: agentID, target: target,
                                      waitsForAdmission: gated))
                }
            }
            .bind(host: config.viewerBind, port: port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    let actual = channel.localAddress?.port ?? port
                    channel.closeFuture.whenComplete { [self] _ in ports.release(port) }
                    guard session.isActive else {
                        channel.close(promise: nil)
                        promise.fail(ValidationFailure("agent left"))
                        return
                    }
                    listener.channel = channel
                    listener.viewerPort = actual
                    listener.url = ViewerURL.make(targetName: target.name, host: config.publicHost, port: actual)
                    promise.succeed(())
                case .failure(let error):
                    ports.release(port)
                    let busy = (error as? IOError).map { $0.errnoCode == EADDRINUSE || $0.errnoCode == EACCES } ?? false
                    if busy, !ports.isEphemeral, port < 65535, attempt < config.maxPortAttempts {
                        bindListener(session: session, listener: listener, from: port + 1, attempt: attempt + 1, promise: promise)
                    } else {
                        promise.fail(error)
                    }
                }
            }
    }

    // MARK: tunnels

    /// A viewer connected to a target listener. Returns nil (after logging why) when refused.
    func openTunnel(sessionID: UInt64, agentID: String, target: TunnelTarget,
                    viewer: ChannelHandlerContext, viewerAddress: String) -> Tunnel? {
        eventLoop.assertInEventLoop()
        let session = sessions[agentID]
        let admission = ViewerAdmission.decide(
            listenerSessionID: sessionID,
            current: session.map { .init(sessionID: $0.sessionID, isActive: $0.isActive, isAnnounced: $0.isAnnounced) },
            tunnelsInUse: tunnels.count, maxTunnels: config.maxTunnels)
        guard case .admit = admission, let session else {
            if case .refuse(let reason, let isWarning, let failure) = admission {
                ServerLog.log(isWarning ? .warn : .info, "streampoint",
                              "refusing viewer \(viewerAddress) for agent \(agentID) target \(target.name): \(reason)")
                StreampointMetrics.tunnelFailed(failure)
            }
            return nil
        }
        let id = tunnelIDs.allocate { tunnels[$0] != nil }
        var token = [UInt8](repeating: 0, count: ProtocolConstants.bindTokenSize)
        for i in token.indices { token[i] = UInt8.random(in: .min ... .max, using: &random) }

        let tunnel = Tunnel(id: id, agentID: agentID, sessionID: sessionID, target: target, bindToken: token,
                            viewer: viewer, viewerAddress: viewerAddress)
        tunnel.onFinished = { [self] finished in
            if tunnels[finished.id] === finished { tunnels[finished.id] = nil }
            bytesToViewersOfClosedTunnels &+= finished.bytesToViewer
            bytesFromViewersOfClosedTunnels &+= finished.bytesFromViewer
        }
        tunnels[id] = tunnel
        let timeout = config.bindTimeout
        tunnel.pendingTimeout = eventLoop.scheduleTask(in: timeout) {
            tunnel.abortPending(reason: "the agent did not bind within \(timeout.nanoseconds / 1_000_000_000) s", failure: .bindTimeout)
        }
        session.send(.tunnelOpen(tunnelID: id, host: target.host, port: target.port, bindToken: token))
        ServerLog.info("streampoint", "\(tunnel.label) requested: TUNNEL_OPEN to \(target.host):\(target.port)")
        return tunnel
    }

    /// TUNNEL_OPEN_FAILED on the control link of `sessionID`.
    func tunnelOpenFailed(sessionID: UInt64, tunnelID: UInt32, code: ErrorCode, message: String) {
        guard let tunnel = tunnels[tunnelID], tunnel.sessionID == sessionID, tunnel.state == .pending else {
            ServerLog.debug("streampoint", "TUNNEL_OPEN_FAILED for unknown or already settled tunnel \(tunnelID) (\(code.name): \(message))")
            return
        }
        tunnel.abortPending(reason: "the agent could not open it: \(code.name): \(message)", failure: .openFailed)
    }

    /// TUNNEL_BIND on a data link. On acceptance the tunnel is returned, still pending:
    /// the caller sends HELLO_ACK and then attaches the link.
    func bind(tunnelID: UInt32, bindToken: [UInt8]) -> Result<Tunnel, ValidationFailure> {
        eventLoop.assertInEventLoop()
        let tunnel = tunnels[tunnelID]
        let candidate = tunnel.map { tunnel in
            BindCandidate(isPending: tunnel.state == .pending,
                          ownerLinkLive: isCurrent(sessionID: tunnel.sessionID, agentID: tunnel.agentID),
                          bindToken: tunnel.bindToken)
        }
        switch BindDecision.decide(tunnelID: tunnelID, candidate: candidate, presentedToken: bindToken) {
        case .accept:
            return .success(tunnel!)
        case .reject(let reason):
            return .failure(ValidationFailure(reason))
        }
    }
}
