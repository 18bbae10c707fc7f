import CamNIO
import CamProtocol
import HummingbirdWSClient
import Logging
import NIOCore

/// The thin I/O driver of the streampoint channel: runs EndpointChannelStateMachine
/// over hummingbird-websocket's WebSocketClient. Every decision is the machine's;
/// this only dials, sleeps, reads and writes frames, hands the revoked set
/// and load queries to the registry's event loop, the viewer-token keys
/// to the ViewerTokenVerifier, and the camera media settings to the registry.
public actor EndpointChannelClient {
    public typealias LoadSource = @Sendable () async -> StreampointLoad
    public typealias RevokedSink = @Sendable (Set<String>) async -> Void
    public typealias CameraMediaSink = @Sendable ([CameraMediaTarget]) async -> Void

    /// Either side closes a silent channel: a ping every 15 s, and no pong by the next one closes it (≤ 30 s).
    static let pingPeriod: Duration = .seconds(15)

    private var machine: EndpointChannelStateMachine
    private let token: String
    private let eventLoopGroup: EventLoopGroup
    private let loadSource: LoadSource
    private let revokedSink: RevokedSink
    private let viewerTokens: ViewerTokenVerifier?
    private let cameraMediaSink: CameraMediaSink?
    private let clock = ContinuousClock()
    private let startedAt: ContinuousClock.Instant

    public init(configuration: EndpointChannelStateMachine.Configuration, token: String, eventLoopGroup: EventLoopGroup,
                load: @escaping LoadSource, applyRevoked: @escaping RevokedSink, viewerTokens: ViewerTokenVerifier? = nil,
                applyCameraMedia: CameraMediaSink? = nil) {
        self.machine = EndpointChannelStateMachine(configuration: configuration)
        self.viewerTokens = viewerTokens
        self.cameraMediaSink = applyCameraMedia
        self.token = token
        self.eventLoopGroup = eventLoopGroup
        self.loadSource = load
        self.revokedSink = applyRevoked
        self.startedAt = clock.now
    }

    /// Feeds the registry, which lives on `registry`'s event loop.
    public init(configuration: EndpointChannelStateMachine.Configuration, token: String,
                registry: StreampointRegistry) {
        let loop = registry.eventLoop
        let confined = LoopConfined(registry: registry)
        self.init(
            configuration: configuration, token: token, eventLoopGroup: loop,
            load: {
                (try? await loop.submit { confined.registry.load() }.get())
                    ?? StreampointLoad(agents: 0, tunnels: 0, viewers: 0, bytesToViewers: 0, bytesFromViewers: 0)
            },
            applyRevoked: { revoked in
                try? await loop.submit { confined.registry.applyRevoked(revoked) }.get()
            },
            viewerTokens: registry.viewerTokens,
            applyCameraMedia: { targets in
                try? await loop.submit { confined.registry.media.applyCameraMedia(targets) }.get()
            })
    }

    /// Carries the registry to closures that only touch it inside `loop.submit`, on its own event loop.
    private struct LoopConfined: @unchecked Sendable {
        let registry: StreampointRegistry
    }

    /// The last revoked set received; it stays in force while the channel is down.
    public var revoked: Set<String> { machine.revoked }
    public var isConnected: Bool { machine.isConnected }

    /// Runs until the task is cancelled: dial, serve the channel, back off, dial the next endpoint.
    public func run() async {
        var pending = machine.start()
        while !Task.isCancelled, !pending.isEmpty {
            var next: [EndpointChannelStateMachine.Action] = []
            for action in pending {
                switch action {
                case .connect(let url):
                    let reason = await serve(url: url)
                    next += machine.disconnected(reason: reason, jitter: Double.random(in: 0..<1))
                case .wait(let seconds):
                    do { try await Task.sleep(for: .seconds(seconds)) } catch { return }
                    next += machine.retry()
                default:
                    log(action)
                }
            }
            pending = next
        }
    }

    /// One channel session; returns why it ended.
    private func serve(url: String) async -> String {
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: StreampointChannelFrame.maxFrameBytes,
            additionalHeaders: [.authorization: "Bearer \(token)"],
            autoPing: .enabled(timePeriod: Self.pingPeriod))
        let client = WebSocketClient(url: url, configuration: configuration, eventLoopGroup: eventLoopGroup,
                                     logger: Self.quietLogger) { inbound, outbound, _ in
            try await self.session(inbound: inbound, outbound: outbound)
        }
        do {
            guard let close = try await client.run() else { return "connection closed" }
            let reason = close.reason.map { ": " + LogText.peer($0) } ?? ""
            return "WebSocket closed (\(close.closeCode))\(reason)"
        } catch {
            // Peer-influenced (e.g. an HTTP status line), so escaped like any peer text.
            return LogText.peer("\(error)")
        }
    }

    private func session(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        _ = try await perform(machine.connected(now: now()), outbound)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.sendLoadWhenDue(outbound) }
            defer { group.cancelAll() }
            for try await message in inbound.messages(maxSize: StreampointChannelFrame.maxFrameBytes) {
                guard case .text(let text) = message else {
                    ServerLog.warn("streampoint", "binary frame on the streampoint channel; closing")
                    try await outbound.close(.init(codeNumber: 1003), reason: "text frames only")
                    break
                }
                if try await perform(machine.received(text), outbound) { break }
            }
        }
    }

    private func sendLoadWhenDue(_ outbound: WebSocketOutboundWriter) async throws {
        while let at = machine.nextLoadAt() {
            let delay = at - now()
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            _ = try await perform(machine.tick(now: now()), outbound)
        }
    }

    /// Returns true once the channel is being closed.
    private func perform(_ actions: [EndpointChannelStateMachine.Action], _ outbound: WebSocketOutboundWriter) async throws -> Bool {
        for action in actions {
            switch action {
            case .send(let text):
                try await outbound.write(.text(text))
            case .sendLoad:
                let load = await loadSource()
                try await outbound.write(.text(StreampointChannelFrame.load(load).text))
            case .applyRevoked(let revoked):
                await revokedSink(revoked)
            case .applyViewerKeys(let keys):
                viewerTokens?.replaceKeys(keys)
            case .applyCameraMedia(let targets):
                await cameraMediaSink?(targets)
            case .close(let code, let reason):
                try await outbound.close(.init(codeNumber: Int(code)), reason: reason)
                return true
            case .connect, .wait:
                break  // only produced by start/disconnected/retry, which run() handles
            case .logDebug, .logInfo, .logWarn:
                log(action)
            }
        }
        return false
    }

    private func log(_ action: EndpointChannelStateMachine.Action) {
        switch action {
        case .logDebug(let text): ServerLog.debug("streampoint", text)
        case .logInfo(let text): ServerLog.info("streampoint", text)
        case .logWarn(let text): ServerLog.warn("streampoint", text)
        default: break
        }
    }

    private func now() -> Double {
        let elapsed = startedAt.duration(to: clock.now).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    /// The library's own logging stays off: it would go to stdout, which carries only the lines scripts parse.
    static let quietLogger = Logger(label: "camagent-streampoint.channel", factory: { _ in SwiftLogNoOpLogHandler() })
}
