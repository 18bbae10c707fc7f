import CamNIO
import CamProtocol

/// What a registry change returns: its result, and the rows it touched as they
/// are now, for the caller's cache.
public struct RegistryChange<Result: Sendable>: Sendable {
    public var result: Result
    public var records: Registry
}

/// Who asks, for presence rows: this endpoint, the peer's address, and the time.
public struct PresenceContext: Sendable {
    public var endpointID: String
    public var remoteHost: String
    /// Unix seconds.
    public var now: Int64

    public init(endpointID: String, remoteHost: String, now: Int64) {
        self.endpointID = endpointID
        self.remoteHost = remoteHost
        self.now = now
    }
}

/// A login's check against the shared registry, after the proof was right.
public struct SessionClaim: Sendable, Equatable {
    /// Set when the operator revoked the agent (at any endpoint): refuse the login.
    public var revoked: Revocation?
    /// A live session of this agent (here or at another endpoint) from another address:
    /// a clone, probably. The unit was flagged; the new session goes ahead.
    public var cloneOf: PresenceRecord?
}

/// The agent registry every endpoint shares: agents and their verifiers, factory
/// units and their activations, revocations, assignments, and who is online
/// where. Every method is one transaction; none rewrites the whole registry.
///
/// Blocking: call it from the CLI, or from an endpoint through RegistryWorker,
/// which runs it on threads of its own and never on an event loop.
public protocol RegistryStore: AnyObject, Sendable {
    var displayName: String { get }

    /// Migrates the database to this binary's schema (once per process).
    /// ValidationFailure: the database is newer than this binary.
    /// RegistryUnavailable: it cannot be reached now; try again later.
    func prepare() throws

    /// Everything, with the generation it was read at.
    func snapshot() throws -> (registry: Registry, generation: Int64)
    /// Counts every committed registry change; cheap, polled to refresh caches.
    func generation() throws -> Int64

    /// Adds an agent or replaces its verifier; its assignment and revocation
    /// are kept unless `streampoint` is given.
    func enroll(agentID: String, verifierHex: String, streampoint: String?) throws -> RegistryChange<AgentRecord>
    /// Adds or updates factory units, all or none.
    func addUnits(_ units: [UnitImport]) throws -> RegistryChange<[UnitRecord]>
    /// Copies an old JSON registry in, all or none; rows with the same id or serial are replaced.
    func importRegistry(_ registry: Registry) throws -> RegistryChange<Int>
    func revoke(agentID: String, reason: String, at: String) throws -> RegistryChange<Registry.RevocationChange>
    func unrevoke(agentID: String) throws -> RegistryChange<Registry.RevocationChange>
    /// nil when the agent is unknown.
    func assign(agentID: String, streampointID: String, backupID: String?) throws -> RegistryChange<AgentRecord?>

    /// Decides an activation whose proof was correct (Registry.activate), with
    /// the unit's row locked: of two endpoints racing for one serial, the second
    /// sees the first's activation and its presence row and is refused.
    /// `onlineHere`: the unit's agent has a session at this endpoint.
    /// `afterReset`: the unit confirmed a reset here, so its old session is no clone.
    func activate(_ request: ActivationRequest, newKey: [UInt8], at: String, presence: PresenceContext,
                  onlineHere: Bool, afterReset: Bool) throws -> RegistryChange<ActivationOutcome>
    /// A login with a correct proof: checks the revocation, flags a clone seen
    /// at another endpoint, and records the session's presence with a lease.
    func claimSession(agentID: String, presence: PresenceContext) throws -> RegistryChange<SessionClaim>
    /// Extends the leases of this endpoint's sessions and drops long-dead rows.
    func renewPresence(endpointID: String, now: Int64) throws
    func releasePresence(agentID: String, endpointID: String) throws
    func releaseAllPresence(endpointID: String) throws
    func presence(agentID: String) throws -> PresenceRecord?

    /// Stores a new API token's hash; ValidationFailure if the name is taken.
    func addAPIToken(_ token: APITokenRecord) throws
    /// Every token's name, role and hash (never a token: the registry has none).
    func apiTokens() throws -> [APITokenRecord]
    /// false when no token has that name.
    func revokeAPIToken(name: String) throws -> Bool
    func markAPITokenUsed(name: String, at: String) throws
    func close()
}
