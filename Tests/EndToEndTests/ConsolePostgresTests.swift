import EndpointCore
import Foundation
import Testing

/// The console's tables on a real PostgreSQL (a throwaway cluster): operators,
/// sessions shared by two stores (two endpoints), the audit trail, and the CLI.
@Suite struct ConsolePostgresTests {
    @Test func operatorsSessionsAndTheAuditTrailWorkOnPostgreSQL() throws {
        let postgres = try ThrowawayPostgres()
        defer { postgres.stop() }
        let url = try postgres.createDatabase("console")
        let endpoint = Binaries.host("camagent-endpoint")
        let (status, out, err) = try run(endpoint, ["operator", "add", "--registry", url, "--name", "alice", "--password-stdin"],
                                         stdin: "alice's long password\n")
        #expect(status == 0 && out == "added operator alice\n", "\(out)\(err)")
        let (_, list, _) = try run(endpoint, ["operator", "list", "--registry", url])
        #expect(list.hasPrefix("alice created "))

        let main = try SQLRegistryStore.open(RegistryLocation(argument: url))
        let backup = try SQLRegistryStore.open(RegistryLocation(argument: url))
        defer { main.close(); backup.close() }
        let alice = try #require(try main.operatorRecord(name: "alice"))
        #expect(alice.password.verify(password: "alice's long password") && alice.password.iterations >= 210_000)
        try main.createSession(idHash: "h1", ConsoleSessionRecord(operatorName: "alice", csrfToken: "c1", expiresAt: 2000), now: 1000)
        #expect(try backup.session(idHash: "h1", now: 1500)?.csrfToken == "c1")
        #expect(try backup.session(idHash: "h1", now: 2000) == nil)
        try backup.appendAudit(AuditEntry(at: "2026-12-03T12:00:00.000Z", actor: "alice", action: "reboot", target: "cam-1", result: "ok (200)"))
        try main.appendAudit(AuditEntry(at: "2026-12-03T12:00:01.000Z", actor: "ops", action: "revoke", target: "cam-2", result: "ok (200)"))
        #expect(try main.auditTrail(limit: 10).map(\.action) == ["revoke", "reboot"])
        #expect(try main.auditTrail(limit: 1).count == 1)

        let (removed, removedOut, _) = try run(endpoint, ["operator", "remove", "--registry", url, "--name", "alice"])
        #expect(removed == 0 && removedOut == "removed operator alice\n")
        #expect(try main.session(idHash: "h1", now: 1500) == nil)
        #expect(try main.operators().isEmpty)
    }
}
