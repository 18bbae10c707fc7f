/// An operator of the console, as the registry stores it.
public struct OperatorRecord: Sendable, Equatable {
    public var name: String
    public var password: PasswordHash
    /// ISO 8601, UTC.
    public var createdAt: String

    public init(name: String, password: PasswordHash, createdAt: String) {
        self.name = name
        self.password = password
        self.createdAt = createdAt
    }
}

/// A console login, shared by every endpoint of the registry (so a backup
/// endpoint knows the session too). The registry holds only the SHA-256 of the
/// session id; the id itself lives in the browser's cookie.
public struct ConsoleSessionRecord: Sendable, Equatable {
    public var operatorName: String
    /// Sent back by the console's script in X-CSRF-Token on every state-changing request.
    public var csrfToken: String
    /// Unix seconds.
    public var expiresAt: Int64

    public init(operatorName: String, csrfToken: String, expiresAt: Int64) {
        self.operatorName = operatorName
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// One line of the audit trail: who did what to what, and how it ended.
public struct AuditEntry: Sendable, Equatable, Codable {
    /// ISO 8601, UTC, to the millisecond.
    public var at: String
    /// The operator's name, or the bearer token's name.
    public var actor: String
    /// e.g. `reboot`, `revoke`, `login`, `import-units`.
    public var action: String
    /// e.g. the agent id, or empty.
    public var target: String
    /// e.g. `ok`, `refused: …`, `HTTP 409`.
    public var result: String

    public init(at: String, actor: String, action: String, target: String, result: String) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.result = result
    }
}

/// The console's tables in the registry: operators, their sessions, the audit
/// trail. Each method is one transaction. Blocking, like RegistryStore: run it
/// through RegistryWorker, or from the CLI.
public protocol ConsoleStore: AnyObject, Sendable {
    /// False (and nothing changed) if an operator of that name exists.
    func addOperator(_ record: OperatorRecord) throws -> Bool
    func operatorRecord(name: String) throws -> OperatorRecord?
    func operators() throws -> [OperatorRecord]
    /// Also ends the operator's sessions. False if there was no such operator.
    func removeOperator(name: String) throws -> Bool

    /// Stores a new session (and drops expired ones).
    func createSession(idHash: String, _ session: ConsoleSessionRecord, now: Int64) throws
    /// nil if unknown, expired, or its operator was removed.
    func session(idHash: String, now: Int64) throws -> ConsoleSessionRecord?
    func deleteSession(idHash: String) throws

    func appendAudit(_ entry: AuditEntry) throws
    /// The newest first, at most `limit`.
    func auditTrail(limit: Int) throws -> [AuditEntry]
}
