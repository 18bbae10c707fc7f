import CamNIO
import CamProtocol
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The console's logins and sessions: checks passwords (PBKDF2, off the event
/// loops), issues session cookies and CSRF tokens, resolves a cookie to its
/// operator, and writes the audit trail. Sessions live in the registry, so every
/// endpoint sharing it knows them.
public final class ConsoleAuthenticator: Sendable {
    public static let cookieName = "camagent_session"
    public static let csrfHeader = "X-CSRF-Token"
    /// A session ends this long after login, whatever happens meanwhile.
    public static let sessionLifetime: Int64 = 12 * 3600

    public enum LoginOutcome: Sendable, Equatable {
        /// `sessionID` goes into the cookie; the registry keeps only its hash.
        case success(sessionID: String, session: ConsoleSessionRecord)
        case wrongCredentials
        case rateLimited(retryAfterSeconds: Int)
        case unavailable(String)
    }

    /// What a request's cookie stands for.
    public enum SessionCheck: Sendable, Equatable {
        case noCookie
        case invalid
        case valid(ConsoleSessionRecord)
    }

    let store: ConsoleStore
    /// Whether the console is served over TLS: then cookies carry Secure.
    public let secureCookies: Bool
    private let throttle = NIOLockedValueBox(LoginThrottle())
    private let logger: Logger
    private let pool: NIOThreadPool
    private let monotonicSeconds: @Sendable () -> Double
    private let unixSeconds: @Sendable () -> Int64
    /// Checked when the name is unknown, so that a wrong name costs as long as a wrong password.
    private let decoy: PasswordHash?

    public init(store: ConsoleStore, secureCookies: Bool, logger: Logger, pool: NIOThreadPool = .singleton,
                monotonicSeconds: @escaping @Sendable () -> Double = { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 },
                unixSeconds: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.store = store
        self.secureCookies = secureCookies
        self.logger = logger
        self.pool = pool
        self.monotonicSeconds = monotonicSeconds
        self.unixSeconds = unixSeconds
        decoy = try? PasswordHash.make(password: OperatorPassword.generate())
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Checks a name and password from `address` (the peer's address key).
    public func login(name: String, password: String, address: String) async -> LoginOutcome {
        // Invalid names share one throttle key, so junk cannot grow the table.
        let key = OperatorPassword.nameProblem(name) == nil ? name : "(invalid)"
        let wait = throttle.withLockedValue { $0.retryAfter(name: key, address: address, now: monotonicSeconds()) }
        if wait > 0 {
            logger.warning("console login refused (rate-limited) for \(key) from \(address)")
            return .rateLimited(retryAfterSeconds: Int(wait.rounded(.up)))
        }
        let store = self.store, decoy = self.decoy
        let record: OperatorRecord?
        let correct: Bool
        do {
            (record, correct) = try await blocking {
                let record = key == name ? try store.operatorRecord(name: name) : nil
                guard let record else {
                    _ = decoy?.verify(password: password)
                    return (nil, false)
                }
                return (record, record.password.verify(password: password))
            }
        } catch {
            logger.error("console login for \(key) failed: registry: \(error)")
            return .unavailable("the registry is unavailable; try again")
        }
        guard let record, correct else {
            throttle.withLockedValue { $0.recordFailure(name: key, address: address, now: monotonicSeconds()) }
            logger.notice("console login failed for \(key) from \(address)")
            await audit(actor: key, action: "login", target: "", result: "refused: wrong name or password", from: address)
            return .wrongCredentials
        }
        throttle.withLockedValue { $0.recordSuccess(name: key) }
        let sessionID = SecureRandom.token(bytes: 32)
        let now = unixSeconds()
        let session = ConsoleSessionRecord(operatorName: record.name, csrfToken: SecureRandom.token(bytes: 32),
                                           expiresAt: now + Self.sessionLifetime)
        do {
            try await blocking { try store.createSession(idHash: SecureRandom.sha256Hex(sessionID), session, now: now) }
        } catch {
            logger.error("console login for \(key): cannot store the session: \(error)")
            return .unavailable("the registry is unavailable; try again")
        }
        logger.info("console login: operator \(record.name) from \(address)")
        await audit(actor: record.name, action: "login", target: "", result: "ok", from: address)
        return .success(sessionID: sessionID, session: session)
    }

    /// Resolves the session cookie of a request (its value, if any).
    public func check(cookie: String?) async throws -> SessionCheck {
        guard let cookie, !cookie.isEmpty else { return .noCookie }
        // Our ids are 43 base64url characters; anything else is not worth a query.
        guard cookie.utf8.count == 43 else { return .invalid }
        let store = self.store, now = unixSeconds()
        let found = try await blocking { try store.session(idHash: SecureRandom.sha256Hex(cookie), now: now) }
        return found.map { .valid($0) } ?? .invalid
    }

    public func logout(cookie: String, operatorName: String, address: String) async {
        let store = self.store
        do {
            try await blocking { try store.deleteSession(idHash: SecureRandom.sha256Hex(cookie)) }
        } catch {
            logger.error("console logout of \(operatorName): registry: \(error)")
        }
        logger.info("console logout: operator \(operatorName) from \(address)")
        await audit(actor: operatorName, action: "logout", target: "", result: "ok", from: address)
    }

    /// True if the request's CSRF header equals its session's token (constant time).
    public static func csrfMatches(header: String?, session: ConsoleSessionRecord) -> Bool {
        guard let header else { return false }
        return constantTimeEqual(Array(header.utf8), Array(session.csrfToken.utf8))
    }

    /// Records an action in the registry's audit trail and in the log. A registry
    /// that is away loses the trail entry (the log line stays); it never fails the action.
    public func audit(actor: String, action: String, target: String, result: String, from address: String) async {
        let entry = AuditEntry(at: Self.auditTimestamp(), actor: actor, action: action, target: LogText.peer(target),
                               result: LogText.peer(result))
        logger.info("audit: \(entry.actor) \(entry.action) \(entry.target.isEmpty ? "-" : entry.target) from \(address): \(entry.result)")
        let store = self.store
        do {
            try await blocking { try store.appendAudit(entry) }
        } catch {
            logger.error("audit entry not stored (registry: \(error)): \(entry.actor) \(entry.action) \(entry.target)")
        }
    }

    public func auditTrail(limit: Int) async throws -> [AuditEntry] {
        let store = self.store
        return try await blocking { try store.auditTrail(limit: limit) }
    }

    static func auditTimestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
