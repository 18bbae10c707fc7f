import CamCore
import CamProtocol
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Milliseconds on the monotonic clock NIO schedules with, so a deadline the
/// core names is exactly a deadline NIO can wait for.
enum FleetClock {
    static func nowMs() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }
    static func deadline(ms: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(max(0, ms)) * 1_000_000) }
}

/// Randomness for nonces and backoff jitter: the system generator, as the real
/// agent uses getrandom(2).
struct FleetEntropy: EntropySource {
    private var generator = SystemRandomNumberGenerator()

    mutating func bytes(_ count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            var word = generator.next()
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }
}

/// What every simulated agent shares; immutable after start.
final class FleetEnvironment: @unchecked Sendable {
    /// Client TLS trusting the CA file, as the agent's `ca_file`; nil without one.
    let tls: NIOSSLContext?
    let recorder: FleetRecorder
    let addresses: AddressCache
    /// Index of the one agent whose log lines are printed (debugging), if any.
    let tracedAgent: Int?

    init(tls: NIOSSLContext?, recorder: FleetRecorder, addresses: AddressCache, tracedAgent: Int?) {
        self.tls = tls
        self.recorder = recorder
        self.addresses = addresses
        self.tracedAgent = tracedAgent
    }
}

/// One simulated agent: the agent's own `AgentCore` state machine, driven by
/// NIO instead of the poll loop of Agent/Runtime/AgentRuntime.swift. Confined to
/// `loop`: every method runs there, so it needs no locks.
///
/// Sockets are kept in a dictionary keyed by the core's `LinkID`, whatever
/// links the core invents; actions are executed in `execute`, the one switch
/// over `AgentAction`.
final class SimulatedAgent {
    let index: Int
    let agentID: String
    let loop: EventLoop
    private let environment: FleetEnvironment
    private var core: AgentCore<FleetEntropy>
    private var links: [LinkID: AgentLink] = [:]
    private var pending: [AgentAction] = []
    private var timer: Scheduled<Void>?
    private var timerDeadline: Int64?
    private var endpointWasUp = false
    private var streampointWasUp = false
    private var stopped = false
    private(set) var startedAt: Int64 = 0

    init(index: Int, config: AgentConfig, loop: EventLoop, environment: FleetEnvironment) {
        self.index = index
        agentID = config.identity?.agentID ?? "agent \(index)"
        self.loop = loop
        self.environment = environment
        core = AgentCore(config: config, entropy: FleetEntropy())
    }

    // MARK: - Lifecycle (call from any thread)

    /// `coldStart`: as if the system had just booted (uptime 0), so the
    /// agent's boot jitter applies; otherwise as a restarted process.
    func start(at time: NIODeadline, coldStart: Bool = false) {
        loop.scheduleTask(deadline: time) { [self] in
            startedAt = FleetClock.nowMs()
            deliver { core, now in core.start(now: now, uptimeMs: coldStart ? 0 : nil) }
        }
    }

    /// Closes every socket and stops reacting to anything.
    func stop() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            stopped = true
            timer?.cancel()
            for (_, link) in links { link.close() }
            links.removeAll()
        }
    }

    // MARK: - Events into the core

    /// Runs one core event, then every action it produced (which may produce more).
    private func deliver(_ event: (inout AgentCore<FleetEntropy>, Int64) -> [AgentAction]) {
        guard !stopped else { return }
        let now = FleetClock.nowMs()
        pending += event(&core, now)
        while !pending.isEmpty {
            execute(pending.removeFirst(), now: now)
        }
        noteTransitions(now: now)
        rescheduleTick()
    }

    private func isCurrent(_ link: AgentLink) -> Bool { links[link.id] === link }

    /// TCP is up (plain) or the TLS handshake finished: the link is the core's.
    func linkReady(_ link: AgentLink) {
        guard isCurrent(link), !link.isReady else { return }
        link.isReady = true
        deliver { core, now in core.connected(link.id, now: now) }
    }

    func linkActive(_ link: AgentLink, channel: Channel) {
        guard isCurrent(link) else {
            channel.close(promise: nil)
            return
        }
        link.channel = channel
        if !link.usesTLS { linkReady(link) }
    }

    func linkReceived(_ link: AgentLink, _ bytes: [UInt8]) {
        guard isCurrent(link), link.isReady else { return }
        deliver { core, now in core.received(link.id, bytes: bytes, now: now) }
    }

    /// The socket closed or failed without the core asking.
    func linkLost(_ link: AgentLink, reason: String) {
        guard isCurrent(link) else { return }
        links[link.id] = nil
        if link.isReady {
            deliver { core, now in core.closed(link.id, reason: reason, now: now) }
        } else {
            deliver { core, now in core.connectFailed(link.id, reason: reason, now: now) }
        }
    }

    // MARK: - Actions out of the core

    /// The one place that knows every `AgentAction`. No `default`: a case the
    /// core adds is a compile error here until the fleet decides what it does.
    private func execute(_ action: AgentAction, now: Int64) {
        switch action {
        case .connect(let id, let address):
            connect(id, to: address, now: now)
        case .send(let id, let bytes):
            links[id]?.send(bytes)
        case .close(let id):
            links.removeValue(forKey: id)?.close()
        case .splice(let tunnelID, _):
            // Fleet agents carry no video: end the tunnel as a camera that closed it.
            links.removeValue(forKey: .tunnelTarget(tunnelID))?.close()
            links.removeValue(forKey: .tunnelData(tunnelID))?.close()
            pending += core.tunnelFinished(tunnelID, bytesToStreampoint: 0, bytesFromStreampoint: 0,
                                           reason: "fleet agents do not serve video", now: now)
        case .log(let level, let text):
            environment.recorder.log(level, text)
            if environment.tracedAgent == index { printTrace(level, text) }
        case .closeTunnel(let tunnelID):
            links.removeValue(forKey: .tunnelTarget(tunnelID))?.close()
            links.removeValue(forKey: .tunnelData(tunnelID))?.close()
            pending += core.tunnelFinished(tunnelID, bytesToStreampoint: 0, bytesFromStreampoint: 0,
                                           reason: "closed by the agent", now: now)
        case .storeState:
            break  // fleet identities come from the seed file; nothing to persist
        case .runCommand:
            break  // a simulated agent has no system to reboot
        }
    }

    private func connect(_ id: LinkID, to address: ServerAddress, now: Int64) {
        // A redial replaces whatever socket the link had.
        links.removeValue(forKey: id)?.close()
        environment.recorder.attempt(agent: index, toEndpoint: id == .endpoint, now: now)
        let target: SocketAddress
        do {
            target = try environment.addresses.resolve(host: address.host, port: address.port)
        } catch {
            pending += core.connectFailed(id, reason: "cannot resolve \(address.host): \(error)", now: now)
            return
        }
        let tls = address.tls ? environment.tls : nil
        if address.tls && tls == nil {
            pending += core.connectFailed(id, reason: "TLS server but the fleet has no --ca-file", now: now)
            return
        }
        let link = AgentLink(id: id, usesTLS: tls != nil)
        links[id] = link
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: address.host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(AgentLinkHandler(agent: self, link: link))
                }
            }
            .connect(to: target)
            .whenFailure { [self] error in
                linkLost(link, reason: describeNetworkError(error))
            }
    }

    // MARK: - Time and bookkeeping

    private func rescheduleTick() {
        let deadline = stopped ? nil : core.nextDeadline
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timer = nil
        timerDeadline = deadline
        guard let deadline else { return }
        timer = loop.scheduleTask(deadline: FleetClock.deadline(ms: deadline)) { [self] in
            timer = nil
            timerDeadline = nil
            deliver { core, now in core.tick(now: now) }
        }
    }

    private func noteTransitions(now: Int64) {
        let endpointUp = core.isEndpointUp
        if endpointUp != endpointWasUp {
            endpointWasUp = endpointUp
            environment.recorder.endpointChanged(agent: index, up: endpointUp, now: now)
        }
        let streampointUp = core.isStreampointUp
        if streampointUp != streampointWasUp {
            streampointWasUp = streampointUp
            environment.recorder.streampointChanged(up: streampointUp)
        }
    }

    private func printTrace(_ level: LogLevel, _ text: String) {
        let line = "fleet trace \(agentID) \(level.label): \(text)\n"
        FileHandleWriter.standardError(line)
    }
}

/// One socket of one agent, from the connect attempt until it closes.
final class AgentLink {
    let id: LinkID
    let usesTLS: Bool
    var channel: Channel?
    /// The core was told `connected`: a later close is `closed`, not `connectFailed`.
    var isReady = false
    /// The error that ended the channel, for the reason the core logs.
    var failure: String?

    init(id: LinkID, usesTLS: Bool) {
        self.id = id
        self.usesTLS = usesTLS
    }

    func send(_ bytes: [UInt8]) {
        channel?.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
    }
}

/// Feeds one agent link's channel events back to its agent (same event loop).
final class AgentLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let agent: SimulatedAgent
    private let link: AgentLink

    init(agent: SimulatedAgent, link: AgentLink) {
        self.agent = agent
        self.link = link
    }

    func channelActive(context: ChannelHandlerContext) {
        agent.linkActive(link, channel: context.channel)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent { agent.linkReady(link) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes), !bytes.isEmpty {
            agent.linkReceived(link, bytes)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if link.failure == nil { link.failure = describeNetworkError(error) }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        agent.linkLost(link, reason: link.failure ?? "closed by peer")
        context.fireChannelInactive()
    }
}

/// Short text for a socket or TLS error, in the spirit of the agent's log lines.
func describeNetworkError(_ error: Error) -> String {
    if let io = error as? IOError { return io.description }
    if let tls = error as? NIOSSLError { return "TLS: \(tls)" }
    if error is ChannelError { return "\(error)" }
    return "\(error)"
}
