@testable import EndpointCore
import Foundation
import Logging
import Testing

/// The console's tables on a real SQLite registry, its password hashes, the
/// login throttle, and the authenticator's sessions end to end (no HTTP).
@Suite struct ConsoleStoreTests {
    final class Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-store-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        var path: String { directory.appendingPathComponent("registry.sqlite").path }
        func open() throws -> SQLRegistryStore { try SQLRegistryStore.open(.sqlite(path: path)) }
        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    @Test func passwordHashesVerifyOnlyTheirPasswordAndNeverStoreIt() throws {
        let hash = try PasswordHash.make(password: "correct horse battery")
        #expect(hash.iterations >= 210_000)
        #expect(hash.verify(password: "correct horse battery"))
        #expect(!hash.verify(password: "correct horse batterY"))
        #expect(!hash.hashHex.contains("correct"))
        // Same password, new salt: a different hash.
        #expect(try PasswordHash.make(password: "correct horse battery").hashHex != hash.hashHex)
        // A row with fewer rounds than the floor, or malformed, never verifies.
        #expect(!PasswordHash(hashHex: hash.hashHex, saltHex: hash.saltHex, iterations: 1000).verify(password: "correct horse battery"))
        #expect(!PasswordHash(hashHex: "zz", saltHex: hash.saltHex, iterations: hash.iterations).verify(password: "x"))
    }

    @Test func generatedPasswordsAreLongAndPassTheRules() {
        let a = OperatorPassword.generate(), b = OperatorPassword.generate()
        #expect(a.count == 20 && a != b)
        #expect(OperatorPassword.problem(a) == nil)
        #expect(OperatorPassword.problem("short") != nil)
        #expect(OperatorPassword.problem("twelve bytes\n!") != nil)
        #expect(OperatorPassword.nameProblem("alice") == nil)
        #expect(OperatorPassword.nameProblem("al ice") != nil)
    }

    @Test func operatorsAreAddedListedAndRemovedWithTheirSessions() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        let hash = try PasswordHash.make(password: "alice's long password")
        #expect(try store.addOperator(OperatorRecord(name: "alice", password: hash, createdAt: "2026-12-03T12:00:00Z")))
        #expect(try !store.addOperator(OperatorRecord(name: "alice", password: hash, createdAt: "later")))
        #expect(try store.addOperator(OperatorRecord(name: "bob", password: hash, createdAt: "2026-12-03T12:01:00Z")))
        #expect(try store.operators().map(\.name) == ["alice", "bob"])
        #expect(try store.operatorRecord(name: "alice")?.password == hash)

        try store.createSession(idHash: "h1", ConsoleSessionRecord(operatorName: "alice", csrfToken: "c1", expiresAt: 2000), now: 1000)
        try store.createSession(idHash: "h2", ConsoleSessionRecord(operatorName: "bob", csrfToken: "c2", expiresAt: 1500), now: 1000)
        #expect(try store.session(idHash: "h1", now: 1001)?.csrfToken == "c1")
        #expect(try store.session(idHash: "h2", now: 1500) == nil)  // expired
        #expect(try store.session(idHash: "nope", now: 1001) == nil)

        // A second store on the same file (another endpoint, or the CLI) sees it.
        let other = try scratch.open()
        defer { other.close() }
        #expect(try other.session(idHash: "h1", now: 1001)?.operatorName == "alice")
        #expect(try other.removeOperator(name: "alice"))
        #expect(try !other.removeOperator(name: "alice"))
        #expect(try store.session(idHash: "h1", now: 1001) == nil)
        #expect(try store.operators().map(\.name) == ["bob"])
    }

    @Test func aSchemaTwoRegistryGainsTheConsoleTables() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        _ = try store.enroll(agentID: "cam-1", verifierHex: String(repeating: "ab", count: 32), streampoint: nil)
        // Back to how a release with migrations 1 and 2 (API tokens) left it.
        try store.database.transaction { session in
            for table in ["console_sessions", "operators", "audit", "viewer_token_keys", "camera_media"] { try session.execute("DROP TABLE \(table)", []) }
            try session.execute("UPDATE registry_meta SET value = 2 WHERE name = 'schema'", [])
        }
        store.close()
        let reopened = try scratch.open()
        defer { reopened.close() }
        #expect(try reopened.snapshot().registry["cam-1"] != nil)
        #expect(try reopened.addOperator(OperatorRecord(name: "alice", password: try PasswordHash.make(password: "alice's long password"),
                                                        createdAt: "t")))
        #expect(SQLRegistryStore.schemaVersion == 5)
    }

    @Test func theAuditTrailKeepsEntriesNewestFirst() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        try store.appendAudit(AuditEntry(at: "2026-12-03T12:00:00.000Z", actor: "alice", action: "reboot", target: "cam-1", result: "ok (200)"))
        try store.appendAudit(AuditEntry(at: "2026-12-03T12:00:01.000Z", actor: "ops-token", action: "revoke", target: "cam-2", result: "ok (200)"))
        let trail = try store.auditTrail(limit: 10)
        #expect(trail.map(\.action) == ["revoke", "reboot"])
        #expect(trail[0].actor == "ops-token" && trail[1].target == "cam-1")
        #expect(try store.auditTrail(limit: 1).count == 1)
    }

    @Test func theThrottleBlocksANameAndAnAddressAfterRepeatedFailures() {
        var throttle = LoginThrottle(perName: .init(maxFailures: 3, window: 60, penalty: 30),
                                     perAddress: .init(maxFailures: 5, window: 60, penalty: 30), capacity: 8)
        for i in 0..<3 { throttle.recordFailure(name: "alice", address: "192.0.2.\(i)", now: 100) }
        #expect(throttle.retryAfter(name: "alice", address: "192.0.2.9", now: 101) == 29)
        #expect(throttle.retryAfter(name: "bob", address: "192.0.2.9", now: 101) == 0)
        #expect(throttle.retryAfter(name: "alice", address: "192.0.2.9", now: 131) == 0)
        for i in 0..<5 { throttle.recordFailure(name: "n\(i)", address: "198.51.100.1", now: 200) }
        #expect(throttle.retryAfter(name: "anyone", address: "198.51.100.1", now: 201) > 0)
        // Bounded: many distinct names never grow a table past its capacity.
        for i in 0..<100 { throttle.recordFailure(name: "junk\(i)", address: "203.0.113.\(i % 50)", now: 300 + Double(i)) }
        #expect(throttle.retryAfter(name: "junk99", address: "x", now: 400) == 0)
    }

    @Test func theAuthenticatorIssuesSessionsChecksThemAndRateLimitsFailures() async throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        _ = try store.addOperator(OperatorRecord(name: "alice", password: try PasswordHash.make(password: "alice's long password"),
                                                 createdAt: "2026-12-03T12:00:00Z"))
        let auth = ConsoleAuthenticator(store: store, secureCookies: false, logger: Logger(label: "test"))
        guard case .success(let sessionID, let session) = await auth.login(name: "alice", password: "alice's long password", address: "192.0.2.1")
        else { Issue.record("login failed"); return }
        #expect(sessionID.count == 43 && session.csrfToken.count == 43 && session.operatorName == "alice")
        #expect(try await auth.check(cookie: sessionID) == .valid(session))
        #expect(try await auth.check(cookie: nil) == .noCookie)
        #expect(try await auth.check(cookie: String(repeating: "A", count: 43)) == .invalid)
        #expect(ConsoleAuthenticator.csrfMatches(header: session.csrfToken, session: session))
        #expect(!ConsoleAuthenticator.csrfMatches(header: nil, session: session))
        #expect(!ConsoleAuthenticator.csrfMatches(header: "x", session: session))

        // Five wrong passwords for alice: the sixth attempt is refused unchecked.
        for _ in 0..<5 {
            #expect(await auth.login(name: "alice", password: "wrong password!", address: "192.0.2.2") == .wrongCredentials)
        }
        guard case .rateLimited = await auth.login(name: "alice", password: "alice's long password", address: "192.0.2.3")
        else { Issue.record("not rate-limited"); return }
        #expect(await auth.login(name: "nobody", password: "whatever it is", address: "192.0.2.4") == .wrongCredentials)

        await auth.logout(cookie: sessionID, operatorName: "alice", address: "192.0.2.1")
        #expect(try await auth.check(cookie: sessionID) == .invalid)
        let trail = try store.auditTrail(limit: 50)
        #expect(trail.contains { $0.actor == "alice" && $0.action == "login" && $0.result == "ok" })
        #expect(trail.contains { $0.actor == "alice" && $0.action == "logout" })
        #expect(trail.filter { $0.action == "login" && $0.result.hasPrefix("refused") }.count == 6)
    }
}
