/// Every metric the servers export: name, type, help text, labels with every
/// value they may take, and histogram buckets. docs/METRICS.md describes the
/// same list for operators; ServerMetricsTests checks that the two agree.
///
/// Label values come only from the closed sets named here, never from a peer
/// (agent ids, serials, addresses, error texts): a peer must not be able to
/// grow the number of series.
public struct MetricDefinition: Sendable {
    public enum Kind: Sendable, Equatable {
        case counter
        case gauge
        /// Seconds; the upper bounds of the buckets.
        case histogram([Double])
    }

    public let name: String
    public let kind: Kind
    public let help: String
    /// Label name and every value it takes, in order.
    public let labels: [(name: String, values: [String])]

    init(_ name: String, _ kind: Kind, _ help: String, labels: [(name: String, values: [String])] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
    }

    /// Every label set the metric can have (one empty set when it has no labels).
    public var labelSets: [[(String, String)]] {
        labels.reduce([[]]) { sets, label in
            sets.flatMap { set in label.values.map { set + [(label.name, $0)] } }
        }
    }

    public var typeName: String {
        switch kind {
        case .counter: return "counter"
        case .gauge: return "gauge"
        case .histogram: return "histogram"
        }
    }
}

public enum MetricCatalog {
    // MARK: bounded label values

    /// Why a login or an activation ended without success.
    public enum Refusal: String, CaseIterable, Sendable {
        case authenticationFailed = "authentication_failed"
        case revoked
        case rateLimited = "rate_limited"
        case identityConflict = "identity_conflict"
        /// The registry could not be reached or did not answer: retryable.
        case registryUnavailable = "registry_unavailable"
        /// Bad upgrade, malformed or unexpected message, wrong role or version.
        case protocolError = "protocol_error"
        case shuttingDown = "shutting_down"
        /// The peer left, or the handshake deadline passed, before any answer.
        case disconnected
    }

    public enum CommandKind: String, CaseIterable, Sendable {
        case disconnect, reboot, reset, stats, other
    }

    public enum CommandResult: String, CaseIterable, Sendable {
        /// COMMAND_RESULT without an error, or the asked-for AGENT_STATS.
        case ok
        /// COMMAND_RESULT with an error code.
        case refused
        /// Timed out, or the session ended first.
        case noAnswer = "no_answer"
        /// Not sent: the agent was offline.
        case offline
        /// Not sent: too many commands waiting.
        case busy
    }

    public enum RevocationAction: String, CaseIterable, Sendable {
        case revoke, unrevoke
    }

    /// The registry store's operations (SQLRegistryStore), one per public call.
    public enum DatabaseOperation: String, CaseIterable, Sendable {
        case snapshot, generation, enroll
        case addUnits = "add_units"
        case importRegistry = "import_registry"
        case revoke, unrevoke, assign, activate
        case claimSession = "claim_session"
        case renewPresence = "renew_presence"
        case releasePresence = "release_presence"
        case releaseAllPresence = "release_all_presence"
        case presence
        case apiTokenAdd = "api_token_add"
        case apiTokenList = "api_token_list"
        case apiTokenRevoke = "api_token_revoke"
        case apiTokenUsed = "api_token_used"
    }

    /// Why a viewer got no tunnel.
    public enum TunnelFailure: String, CaseIterable, Sendable {
        /// The agent is not (or no longer) registered.
        case agentOffline = "agent_offline"
        /// The agent is still registering (STREAM_REGISTERED not sent yet).
        case agentRegistering = "agent_registering"
        case maxTunnels = "max_tunnels"
        /// TUNNEL_OPEN_FAILED: the agent could not reach its target.
        case openFailed = "open_failed"
        /// The agent did not bind a data link in time.
        case bindTimeout = "bind_timeout"
        /// The agent's control link closed while the tunnel was pending.
        case agentLeft = "agent_left"
        /// The viewer disconnected before the agent bound.
        case viewerLeft = "viewer_left"
    }

    public enum Direction: String, CaseIterable, Sendable {
        case toViewer = "to_viewer"
        case fromViewer = "from_viewer"
    }

    /// Which media output a viewer uses.
    public enum MediaOutput: String, CaseIterable, Sendable {
        case rtsp
        case web
    }

    /// Why the streampoint refused an agent link.
    public enum LinkRejection: String, CaseIterable, Sendable {
        case invalidTicket = "invalid_ticket"
        case invalidBind = "invalid_bind"
        case protocolError = "protocol_error"
        case other
    }

    public enum StreampointLink: String, CaseIterable, Sendable {
        /// A camera's control link (STREAM_REGISTER).
        case control
        /// A tunnel data link (TUNNEL_BIND).
        case data
    }

    // MARK: buckets

    /// A login on loopback takes about a millisecond; over a mobile link with
    /// TLS, a second or more; the handshake deadline is 10 s.
    static let handshakeBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// SQLite answers in well under a millisecond; PostgreSQL across a network
    /// in a few; the store's own bounded wait is a few seconds.
    static let databaseBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    /// Re-packetising a frame and writing it takes microseconds on an idle
    /// streampoint and milliseconds on a busy one; past a second the viewer's
    /// socket, not the streampoint, is what holds the frame back.
    static let mediaLatencyBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

    private static func values<E: CaseIterable & RawRepresentable>(_: E.Type) -> [String] where E.RawValue == String {
        E.allCases.map(\.rawValue)
    }

    // MARK: the endpoint

    public static let agentsOnline = MetricDefinition(
        "camagent_endpoint_agents_online", .gauge,
        "Agents with an authenticated session at this endpoint.")
    public static let logins = MetricDefinition(
        "camagent_endpoint_logins_total", .counter,
        "Agent logins that ended in an established session.")
    public static let loginFailures = MetricDefinition(
        "camagent_endpoint_login_failures_total", .counter,
        "Agent links closed before authenticating, by reason (reachability checks not counted).",
        labels: [("reason", values(Refusal.self))])
    public static let activations = MetricDefinition(
        "camagent_endpoint_activations_total", .counter,
        "Factory units given an identity (ACTIVATED sent), re-activations included.")
    public static let activationFailures = MetricDefinition(
        "camagent_endpoint_activation_failures_total", .counter,
        "Activation attempts that ended without ACTIVATED, by reason.",
        labels: [("reason", values(Refusal.self))])
    public static let revocations = MetricDefinition(
        "camagent_endpoint_revocations_total", .counter,
        "Revocations and their lifting through this endpoint's admin API.",
        labels: [("action", values(RevocationAction.self))])
    public static let commands = MetricDefinition(
        "camagent_endpoint_commands_total", .counter,
        "Admin commands to agents (COMMAND, STATS_REQUEST) by kind and how they ended.",
        labels: [("kind", values(CommandKind.self)), ("result", values(CommandResult.self))])
    public static let handshakeDuration = MetricDefinition(
        "camagent_endpoint_handshake_duration_seconds", .histogram(handshakeBuckets),
        "Accepted connection to AUTH_OK sent (TLS, upgrade, HELLO, authentication), for logins that succeeded.")
    public static let authenticationDuration = MetricDefinition(
        "camagent_endpoint_authentication_duration_seconds", .histogram(handshakeBuckets),
        "AUTH_BEGIN received to the decision (registry refresh and session claim included).",
        labels: [("result", ["ok", "refused"])])
    public static let registryUp = MetricDefinition(
        "camagent_endpoint_registry_up", .gauge,
        "1 while the registry database answers, 0 while logins are refused because it does not.")
    public static let databaseErrors = MetricDefinition(
        "camagent_endpoint_database_errors_total", .counter,
        "Registry database operations that failed (unreachable, timed out, or refused by the database).",
        labels: [("operation", values(DatabaseOperation.self))])
    public static let databaseDuration = MetricDefinition(
        "camagent_endpoint_database_duration_seconds", .histogram(databaseBuckets),
        "Time of each registry database operation, failed ones included (one transaction each).",
        labels: [("operation", values(DatabaseOperation.self))])

    // MARK: the streampoint

    public static let agentsRegistered = MetricDefinition(
        "camagent_streampoint_agents_registered", .gauge,
        "Agents with a registered control link at this streampoint.")
    public static let registrations = MetricDefinition(
        "camagent_streampoint_registrations_total", .counter,
        "STREAM_REGISTER accepted (valid ticket), re-registrations included.")
    public static let linkRejections = MetricDefinition(
        "camagent_streampoint_link_rejections_total", .counter,
        "Agent links the streampoint refused, by reason.",
        labels: [("reason", values(LinkRejection.self))])
    public static let tunnelsOpen = MetricDefinition(
        "camagent_streampoint_tunnels_open", .gauge,
        "Tunnels spliced between a viewer and an agent right now.")
    public static let tunnels = MetricDefinition(
        "camagent_streampoint_tunnels_total", .counter,
        "Tunnels opened (the agent bound its data link).")
    public static let tunnelFailures = MetricDefinition(
        "camagent_streampoint_tunnel_failures_total", .counter,
        "Viewer connections that got no tunnel, by reason.",
        labels: [("reason", values(TunnelFailure.self))])
    public static let bytes = MetricDefinition(
        "camagent_streampoint_bytes_total", .counter,
        "Bytes spliced through tunnels, by direction.",
        labels: [("direction", values(Direction.self))])
    public static let viewers = MetricDefinition(
        "camagent_streampoint_viewers", .gauge,
        "Viewer connections on the viewer ports right now (pending and open tunnels).")
    public static let mediaPulls = MetricDefinition(
        "camagent_streampoint_media_pulls", .gauge,
        "Camera targets being pulled right now (one tunnel each, whatever the viewers).")
    public static let mediaViewers = MetricDefinition(
        "camagent_streampoint_media_viewers", .gauge,
        "Viewers served from the pulls right now, by output.",
        labels: [("output", values(MediaOutput.self))])
    public static let mediaDroppedFrames = MetricDefinition(
        "camagent_streampoint_media_dropped_frames_total", .counter,
        "Frames media viewers skipped to catch up (a viewer that falls behind skips to the next keyframe).")
    public static let mediaAddedLatency = MetricDefinition(
        "camagent_streampoint_media_added_latency_seconds", .histogram(mediaLatencyBuckets),
        "From a frame depacketised off the camera's tunnel to its write to a media viewer, by output.",
        labels: [("output", values(MediaOutput.self))])
    public static let viewerTokenRefusals = MetricDefinition(
        "camagent_streampoint_viewer_token_refusals_total", .counter,
        "Media viewer requests refused for a missing, invalid or expired viewer token.")
    public static let streampointHandshakeDuration = MetricDefinition(
        "camagent_streampoint_handshake_duration_seconds", .histogram(handshakeBuckets),
        "Accepted agent link to its ticket (control) or bind token (data) accepted.",
        labels: [("link", values(StreampointLink.self))])

    public static let endpoint: [MetricDefinition] = [
        agentsOnline, logins, loginFailures, activations, activationFailures, revocations, commands,
        handshakeDuration, authenticationDuration, registryUp, databaseErrors, databaseDuration,
    ]

    public static let streampoint: [MetricDefinition] = [
        agentsRegistered, registrations, linkRejections, tunnelsOpen, tunnels, tunnelFailures, bytes, viewers,
        mediaPulls, mediaViewers, mediaDroppedFrames, mediaAddedLatency, viewerTokenRefusals, streampointHandshakeDuration,
    ]

    public static let all = endpoint + streampoint

    public static func definition(named name: String) -> MetricDefinition? {
        all.first { $0.name == name }
    }
}
