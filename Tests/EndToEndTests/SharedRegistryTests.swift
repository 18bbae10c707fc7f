import EndpointCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Main and backup endpoints sharing one registry (issue 10): a PostgreSQL
/// server of the test's own, or one SQLite file on one host. Real processes:
/// the agent binary as a factory unit, simcam, a streampoint, two endpoints.
extension EndToEnd {
@Suite struct SharedRegistryTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// The cluster's registry on `backend`; the PostgreSQL server (if any) is the caller's to stop.
    static func prepare(_ cluster: Cluster, _ backend: Backend, database: String) throws -> ThrowawayPostgres? {
        guard backend == .postgres else { return nil }
        let postgres = try ThrowawayPostgres()
        cluster.registryLocation = try postgres.createDatabase(database)
        return postgres
    }

    /// For the endpoints and the streampoint alike: the agent applies the
    /// endpoint's peer timeout to its streampoint link too, so a streampoint on
    /// its 10 s default heartbeat would look dead after 3 s.
    static let timers = ["--heartbeat", "1", "--peer-timeout", "3"]

    /// The agent's latest viewer URL: on a loaded machine its streampoint link
    /// may have been registered again (a new viewer port) for reasons of its own.
    static func latestViewerURL(_ cluster: Cluster, agentID: String) throws -> String {
        let prefix = "streampoint: agent \(agentID) target rtsp at "
        guard let line = cluster.streampoint.stdout.split(separator: "\n").last(where: { $0.hasPrefix(prefix) }) else {
            throw ClusterError("no viewer URL announced for \(agentID)\n\(cluster.allLogs)")
        }
        return String(line.dropFirst(prefix.count))
    }

    /// A second endpoint on the cluster's registry (the same file or server).
    static func startBackup(_ cluster: Cluster) throws -> (child: ChildProcess, port: Int, adminPort: Int) {
        let child = try cluster.spawn("endpoint-backup", Binaries.host("camagent-endpoint"), [
            "serve", "--listen", "\(Cluster.tlsListenHost):0", "--admin", "127.0.0.1:0",
            "--registry", cluster.registry, "--endpoint-id", "backup", "--ticket-key-file", cluster.path("ticket.key"),
            "--streampoint", "sp1=tls://localhost:\(cluster.streampointPort)",
            "--tls-cert", cluster.pkiPath("server.pem"), "--tls-key", cluster.pkiPath("server.key"),
        ] + timers)
        let agents = try port(fromAnnouncement: child.waitForLine(startingWith: "endpoint: agents listening on "))
        let admin = try port(fromAnnouncement: child.waitForLine(startingWith: "endpoint: admin listening on "))
        return (child, agents, admin)
    }

    /// A factory unit whose config names the main endpoint, then the backup.
    static func startUnit(_ cluster: Cluster, _ unit: FactoryAgent, backupPort: Int, name: String = "unit") throws -> ChildProcess {
        let config = unit.config(cluster, stateFile: cluster.path("\(name).state")) + "endpoint = https://localhost:\(backupPort)\n"
        return try cluster.startAgent(config: config, name: name)
    }

    @Test(arguments: Backend.allCases)
    func aUnitActivatedAtTheMainEndpointLogsInAtTheBackupAfterKill9(backend: Backend) throws {
        let cluster = try Cluster()
        let postgres = try Self.prepare(cluster, backend, database: "failover")
        defer { cluster.stop(); postgres?.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true, endpointArguments: Self.timers + ["--endpoint-id", "main"], streampointArguments: Self.timers)
        let unit = FactoryAgent()
        try unit.add(to: cluster)
        let backup = try Self.startBackup(cluster)
        let agent = try Self.startUnit(cluster, unit, backupPort: backup.port)
        try agent.waitForStderr("endpoint: authenticated to localhost:\(cluster.endpointPort)", timeout: 30)
        #expect(cluster.endpoint.occurrences("activated unit \(unit.serial) as agent \(unit.agentID)") == 1)
        _ = try cluster.viewerURL(agentID: unit.agentID, target: "rtsp")
        func frames() throws -> Int {
            let url = try Self.latestViewerURL(cluster, agentID: unit.agentID)
            do { return try countFrames(url, seconds: 2) } catch {
                throw ClusterError("\(error)\n\(cluster.allLogs)\n--- unit\n\(agent.stderr)\n--- backup\n\(backup.child.stderr)")
            }
        }
        #expect(try frames() >= 25)

        let killedAt = Date()
        kill(cluster.endpoint.process.processIdentifier, SIGKILL)
        do {
            try agent.waitForStderr("endpoint: authenticated to localhost:\(backup.port)", timeout: 30)
        } catch {
            throw ClusterError("\(error)\n--- backup\n\(backup.child.stderr)")
        }
        let failover = Date().timeIntervalSince(killedAt)
        // Bound: the peer timeout (3 s) to notice, plus the agent's largest backoff (2 s), plus slack for load.
        print("shared registry (\(backend.rawValue)): the activated unit authenticated at the backup endpoint "
              + "\(String(format: "%.2f", failover)) s after kill -9 of the main (bound 3 s peer timeout + 2 s backoff + 2 s)")
        #expect(failover <= 7, "took \(failover) s\n\(cluster.allLogs)")
        #expect(backup.child.occurrences("unknown agent") == 0, "\(backup.child.stderr)")
        // The streampoint link never depended on the endpoint: video goes on.
        #expect(try frames() >= 25)
        #expect(backup.child.occurrences("activated unit") == 0, "the unit must not activate again")
    }

    @Test(arguments: Backend.allCases)
    func aRevocationAtTheBackupIsEnforcedWhereverTheUnitLogsIn(backend: Backend) throws {
        let cluster = try Cluster()
        let postgres = try Self.prepare(cluster, backend, database: "revocation")
        defer { cluster.stop(); postgres?.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true, endpointArguments: Self.timers + ["--endpoint-id", "main"], streampointArguments: Self.timers)
        let unit = FactoryAgent()
        try unit.add(to: cluster)
        let backup = try Self.startBackup(cluster)
        let agent = try Self.startUnit(cluster, unit, backupPort: backup.port)
        try agent.waitForStderr("endpoint: authenticated to localhost:\(cluster.endpointPort)", timeout: 30)

        // The operator revokes at the backup, where the unit is not online.
        let (code, body) = try admin(port: backup.adminPort, token: cluster.adminToken, "POST", "/api/agents/\(unit.agentID)/revoke", body: #"{"reason":"reported stolen"}"#)
        #expect(code == 200, "\(body)")
        // The main endpoint sees it within its one-second refresh and closes the session.
        try cluster.endpoint.waitForStderr("agent \(unit.agentID) revoked (\"reported stolen\")", timeout: 10)
        try agent.waitForStderr("endpoint refused us: revoked", timeout: 10)
        // The next login is refused, whichever endpoint the unit reaches.
        func refusals() -> Int { cluster.endpoint.occurrences("rejected (revoked)") + backup.child.occurrences("rejected (revoked)") }
        let deadline = Date().addingTimeInterval(20)
        while refusals() == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(refusals() >= 1, "\(cluster.allLogs)\n--- backup\n\(backup.child.stderr)")
        // With the main gone, the unit reaches the backup: refused there too.
        kill(cluster.endpoint.process.processIdentifier, SIGKILL)
        try backup.child.waitForStderr("rejected (revoked)", count: backup.child.occurrences("rejected (revoked)") + 1, timeout: 30)
        #expect(agent.occurrences("endpoint: authenticated to ") == 1, "the revoked unit logged in again")
        print("shared registry (\(backend.rawValue)): a revocation made at the backup was enforced at the main and at the backup")
    }

    /// Two copies of one unit (same serial and secret), one per endpoint, started
    /// together: exactly one identity is issued.
    @Test func twoEndpointsRacingToActivateOneSerialIssueOneIdentity() throws {
        let cluster = try Cluster()
        let postgres = try Self.prepare(cluster, .postgres, database: "race")
        defer { cluster.stop(); postgres?.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true, endpointArguments: Self.timers + ["--endpoint-id", "main"], streampointArguments: Self.timers)
        let unit = FactoryAgent(serial: "XM0007")
        try unit.add(to: cluster)
        let backup = try Self.startBackup(cluster)
        let atMain = unit.config(cluster, stateFile: cluster.path("a.state"))
        let atBackup = unit.config(cluster, stateFile: cluster.path("b.state"))
            .replacingOccurrences(of: "localhost:\(cluster.endpointPort)", with: "localhost:\(backup.port)")
        try atMain.write(toFile: cluster.path("a.conf"), atomically: true, encoding: .utf8)
        try atBackup.write(toFile: cluster.path("b.conf"), atomically: true, encoding: .utf8)
        let a = try cluster.startAgent(config: atMain, name: "copy-a")
        let b = try cluster.startAgent(config: atBackup, name: "copy-b")
        let deadline = Date().addingTimeInterval(30)
        while a.occurrences("endpoint: authenticated to ") + b.occurrences("endpoint: authenticated to ") == 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        // Let the loser retry a few times.
        Thread.sleep(forTimeInterval: 3)
        let issued = cluster.endpoint.occurrences("activated unit \(unit.serial)") + backup.child.occurrences("activated unit \(unit.serial)")
        #expect(issued == 1, "\(cluster.allLogs)\n--- backup\n\(backup.child.stderr)")
        let refusals = cluster.endpoint.occurrences("identity-conflict") + backup.child.occurrences("identity-conflict")
        print("shared registry (postgres): two endpoints raced to activate \(unit.serial): \(issued) identity issued, \(refusals) refused as identity-conflict")
        #expect(refusals >= 1)
    }

    /// The store itself, as two endpoints use it: two store instances on one
    /// PostgreSQL database, racing for each serial from two threads.
    @Test func twoStoresOnOnePostgresActivateEachSerialOnce() throws {
        let postgres = try ThrowawayPostgres()
        defer { postgres.stop() }
        let url = try postgres.createDatabase("storerace")
        let main = try SQLRegistryStore.open(RegistryLocation(argument: url))
        let backup = try SQLRegistryStore.open(RegistryLocation(argument: url))
        defer { main.close(); backup.close() }
        let rounds = ProcessInfo.processInfo.environment["CAMAGENT_FULL"] == "1" ? 100 : 20
        let secret = [UInt8](repeating: 5, count: 32)
        _ = try main.addUnits((1...rounds).map { UnitImport(agentID: nil, serial: "R\($0)", activationSecret: secret, model: nil, mac: nil) })
        #expect(try backup.snapshot().registry.units.count == rounds)
        var perRound: [Int] = []
        let started = Date()
        for round in 1...rounds {
            let issued = LockedCount()
            DispatchQueue.concurrentPerform(iterations: 2) { which in
                let store = which == 0 ? main : backup
                let change = try? store.activate(
                    ActivationRequest(serial: "R\(round)", mac: "", model: "", firmware: ""),
                    newKey: [UInt8](repeating: UInt8(which + 1), count: 32), at: "t",
                    presence: PresenceContext(endpointID: which == 0 ? "main" : "backup", remoteHost: "192.0.2.1",
                                              now: Int64(Date().timeIntervalSince1970)),
                    onlineHere: false, afterReset: false)
                if case .issued = change?.result { issued.add() }
            }
            perRound.append(issued.value)
        }
        print("registry race (postgres, two stores): \(rounds) rounds in \(String(format: "%.2f", Date().timeIntervalSince(started))) s, "
              + "identities issued per round: \(Set(perRound))")
        #expect(perRound.allSatisfy { $0 == 1 }, "\(perRound)")
        // A revocation through one store is seen by the other at the next login.
        _ = try main.revoke(agentID: "cam-R1", reason: "lost", at: "t")
        let claim = try backup.claimSession(agentID: "cam-R1", presence: PresenceContext(endpointID: "backup", remoteHost: "192.0.2.1", now: 1))
        #expect(claim.result.revoked?.reason == "lost")
    }

    /// The database goes away under a running endpoint: online agents stay, new
    /// logins get a retryable refusal, and it recovers when the server returns.
    @Test func aRegistryThatGoesAwayRefusesLoginsRetryablyAndKeepsSessions() throws {
        let cluster = try Cluster()
        let postgres = try #require(try Self.prepare(cluster, .postgres, database: "outage"))
        defer { cluster.stop(); postgres.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true, endpointArguments: Self.timers, streampointArguments: Self.timers)
        let agent = try cluster.startAgent(config: cluster.agentConfig())
        try agent.waitForStderr("endpoint: authenticated to ", timeout: 30)
        _ = try cluster.viewerURL(target: "rtsp")
        try postgres.takeDown()
        try cluster.endpoint.waitForStderr("registry unavailable", timeout: 20)
        // The online agent stays online and streams.
        do {
            #expect(try countFrames(try Self.latestViewerURL(cluster, agentID: cluster.agentID), seconds: 2) >= 25)
        } catch {
            throw ClusterError("\(error)\n\(cluster.allLogs)")
        }
        #expect(agent.occurrences("endpoint: authenticated to ") == 1)
        // A second agent cannot log in now, retryably.
        let second = try cluster.startAgent(config: cluster.agentConfig(), name: "agent-2")
        try cluster.endpoint.waitForStderr("login refused, retryable", timeout: 30)
        try second.waitForStderr("endpoint refused us: internal-error", timeout: 30)
        try postgres.bringBack()
        try cluster.endpoint.waitForStderr("answers again", timeout: 30)
        try second.waitForStderr("endpoint: authenticated to ", timeout: 30)
        #expect(cluster.endpoint.isRunning)
    }
}
}

/// An admin API call on any endpoint; returns (HTTP status, body).
func admin(port: Int, token: String, _ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
    let curl = try #require(which("curl"), "curl is not installed")
    var arguments = ["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                     "-H", "Authorization: Bearer \(token)"]
    if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
    let (status, out, err) = try run(curl, arguments + ["http://127.0.0.1:\(port)\(path)"])
    guard status == 0, let split = out.lastIndex(of: "\n"), let code = Int(out[out.index(after: split)...]) else {
        throw ClusterError("curl \(method) \(path) failed: \(err)")
    }
    return (code, String(out[..<split]))
}

final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
