import CamProtocol
import CoreMetrics

/// What the servers call, one line per event. Handles are made once; every
/// call is an atomic add or a histogram record, cheap on an event loop.
public enum EndpointMetrics {
    public typealias Refusal = MetricCatalog.Refusal

    private static let online = MetricCatalog.agentsOnline.meter()
    private static let loginCount = MetricCatalog.logins.counter()
    private static let loginFailureCounts = MetricCatalog.loginFailures.counters(by: Refusal.self)
    private static let activationCount = MetricCatalog.activations.counter()
    private static let activationFailureCounts = MetricCatalog.activationFailures.counters(by: Refusal.self)
    private static let revocationCounts = MetricCatalog.revocations.counters(by: MetricCatalog.RevocationAction.self)
    private static let handshake = MetricCatalog.handshakeDuration.timer()
    private static let authenticationOK = MetricCatalog.authenticationDuration.timer([("result", "ok")])
    private static let authenticationRefused = MetricCatalog.authenticationDuration.timer([("result", "refused")])
    private static let registry = MetricCatalog.registryUp.meter()

    public static func agentsOnline(_ count: Int) { online.set(count) }

    /// AUTH_OK sent; `handshakeNanoseconds` since the connection was accepted.
    public static func loginSucceeded(handshakeNanoseconds: Int64) {
        loginCount.increment()
        handshake.recordNanoseconds(handshakeNanoseconds)
    }

    public static func loginFailed(_ reason: Refusal) { loginFailureCounts[reason]?.increment() }

    public static func activationIssued() { activationCount.increment() }

    public static func activationFailed(_ reason: Refusal) { activationFailureCounts[reason]?.increment() }

    /// From AUTH_BEGIN to AUTH_OK, or to the refusal.
    public static func authenticationDecided(ok: Bool, nanoseconds: Int64) {
        (ok ? authenticationOK : authenticationRefused).recordNanoseconds(nanoseconds)
    }

    public static func revocation(_ action: MetricCatalog.RevocationAction) { revocationCounts[action]?.increment() }

    /// `kind`: the command's name (disconnect, reboot, reset, stats); others count as "other".
    public static func command(kind: String, result: MetricCatalog.CommandResult) {
        let kind = MetricCatalog.CommandKind(rawValue: kind) ?? .other
        MetricCatalog.commands.counter([("kind", kind.rawValue), ("result", result.rawValue)]).increment()
    }

    public static func registryAnswers(_ up: Bool) { registry.set(up ? 1 : 0) }
}

extension MetricCatalog.Refusal {
    /// The reason for an ERROR the server sent; nil code: none was sent.
    public init(code: ErrorCode?) {
        switch code {
        case nil: self = .disconnected
        case .authenticationFailed?: self = .authenticationFailed
        case .revoked?: self = .revoked
        case .rateLimited?: self = .rateLimited
        case .identityConflict?: self = .identityConflict
        // The endpoint sends internal-error only when the registry does not answer.
        case .internalError?: self = .registryUnavailable
        case .shuttingDown?: self = .shuttingDown
        default: self = .protocolError
        }
    }
}

/// Registry database calls (SQLRegistryStore): latency and failures per operation.
public enum DatabaseMetrics {
    private static let durations = MetricCatalog.databaseDuration.timers(by: MetricCatalog.DatabaseOperation.self)
    private static let errors = MetricCatalog.databaseErrors.counters(by: MetricCatalog.DatabaseOperation.self)

    /// Runs `body`, recording its time; an error it throws counts when
    /// `isDatabaseError` says so (not a refusal by the registry's own rules).
    public static func measure<Result>(_ operation: MetricCatalog.DatabaseOperation,
                                       isDatabaseError: (Error) -> Bool = { _ in true },
                                       _ body: () throws -> Result) rethrows -> Result {
        let start = ContinuousClock.now
        defer { durations[operation]?.recordNanoseconds((ContinuousClock.now - start).nanoseconds) }
        do {
            return try body()
        } catch {
            if isDatabaseError(error) { errors[operation]?.increment() }
            throw error
        }
    }
}

public enum StreampointMetrics {
    public typealias TunnelFailure = MetricCatalog.TunnelFailure

    private static let registeredAgents = MetricCatalog.agentsRegistered.meter()
    private static let registrationCount = MetricCatalog.registrations.counter()
    private static let rejectionCounts = MetricCatalog.linkRejections.counters(by: MetricCatalog.LinkRejection.self)
    private static let open = MetricCatalog.tunnelsOpen.meter()
    private static let tunnelCount = MetricCatalog.tunnels.counter()
    private static let tunnelFailureCounts = MetricCatalog.tunnelFailures.counters(by: TunnelFailure.self)
    private static let toViewer = MetricCatalog.bytes.counter([("direction", MetricCatalog.Direction.toViewer.rawValue)])
    private static let fromViewer = MetricCatalog.bytes.counter([("direction", MetricCatalog.Direction.fromViewer.rawValue)])
    private static let viewerCount = MetricCatalog.viewers.meter()
    private static let handshakes = MetricCatalog.streampointHandshakeDuration.timers(by: MetricCatalog.StreampointLink.self)
    private static let pulls = MetricCatalog.mediaPulls.meter()
    private static let mediaViewerCounts = Dictionary(uniqueKeysWithValues: MetricCatalog.MediaOutput.allCases.map {
        ($0, MetricCatalog.mediaViewers.meter([("output", $0.rawValue)]))
    })
    private static let droppedFrames = MetricCatalog.mediaDroppedFrames.counter()
    private static let addedLatency = MetricCatalog.mediaAddedLatency.timers(by: MetricCatalog.MediaOutput.self)
    private static let tokenRefusals = MetricCatalog.viewerTokenRefusals.counter()

    public static func mediaPullStarted() { pulls.increment() }

    public static func mediaPullStopped() { pulls.decrement() }

    public static func mediaViewerJoined(_ output: MetricCatalog.MediaOutput) { mediaViewerCounts[output]?.increment() }

    public static func mediaViewerLeft(_ output: MetricCatalog.MediaOutput) { mediaViewerCounts[output]?.decrement() }

    public static func mediaFramesDropped(_ count: Int) { droppedFrames.increment(by: Int64(count)) }

    /// Frames just written to one viewer of `output`, by when each came in from
    /// the tunnel (uptime nanoseconds, 0: not timed); `now` on the same clock.
    /// One clock read per written batch, by the caller.
    public static func mediaFramesWritten(_ output: MetricCatalog.MediaOutput, arrivals: [UInt64], now: UInt64) {
        guard let histogram = addedLatency[output] else { return }
        for arrival in arrivals where arrival != 0 && arrival <= now {
            histogram.recordNanoseconds(Int64(now - arrival))
        }
    }

    public static func viewerTokenRefused() { tokenRefusals.increment() }

    public static func agentsRegistered(_ count: Int) { registeredAgents.set(count) }

    /// A valid STREAM_REGISTER.
    public static func registered() { registrationCount.increment() }

    /// A link's ticket (control) or bind token (data) was accepted, this long after the link was.
    public static func handshakeFinished(_ link: MetricCatalog.StreampointLink, nanoseconds: Int64) {
        handshakes[link]?.recordNanoseconds(nanoseconds)
    }

    /// The agent bound the data link: bytes flow.
    public static func tunnelOpened() {
        tunnelCount.increment()
        open.increment()
    }

    public static func tunnelClosed() { open.decrement() }

    public static func tunnelFailed(_ reason: TunnelFailure) { tunnelFailureCounts[reason]?.increment() }

    public static func linkRejected(code: ErrorCode?) {
        let reason: MetricCatalog.LinkRejection
        switch code {
        case .invalidTicket?: reason = .invalidTicket
        case .invalidBind?: reason = .invalidBind
        case .unexpectedMessage?, .malformedFrame?, .frameTooLarge?, .unsupportedVersion?, nil: reason = .protocolError
        default: reason = .other
        }
        rejectionCounts[reason]?.increment()
    }

    public static func bytesToViewer(_ count: Int) { toViewer.increment(by: Int64(count)) }

    public static func bytesFromViewer(_ count: Int) { fromViewer.increment(by: Int64(count)) }

    public static func viewerConnected() { viewerCount.increment() }

    public static func viewerDisconnected() { viewerCount.decrement() }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
