@testable import EndpointCore
import CamNIO
import CamProtocol
import Foundation
import Testing

/// The registry store on a real SQLite file: every operation is its own
/// transaction, the schema is versioned, and two stores (two endpoints, or an
/// endpoint and a CLI command) on one file see each other's changes.
@Suite struct RegistryStoreTests {
    final class Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("registry-store-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        var path: String { directory.appendingPathComponent("registry.sqlite").path }
        func open() throws -> SQLRegistryStore { try SQLRegistryStore.open(.sqlite(path: path)) }
        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    static let secret = [UInt8](repeating: 9, count: 32)
    static let verifier = String(repeating: "ab", count: 32)

    static func presence(_ endpoint: String, host: String = "192.0.2.1", now: Int64 = 1_000_000) -> PresenceContext {
        PresenceContext(endpointID: endpoint, remoteHost: host, now: now)
    }

    static func request(_ serial: String) -> ActivationRequest {
        ActivationRequest(serial: serial, mac: "00:11:22:33:44:55", model: "IPC", firmware: "1")
    }

    @Test func enrollAssignRevokeAndUnrevokeAreStoredAndCountedInTheGeneration() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        let g0 = try store.generation()
        _ = try store.enroll(agentID: "cam-1", verifierHex: Self.verifier, streampoint: "sp1")
        #expect(try store.generation() == g0 + 1)
        #expect(try store.assign(agentID: "cam-1", streampointID: "sp2", backupID: "sp1").result?.streampoint == "sp2")
        #expect(try store.assign(agentID: "nobody", streampointID: "sp2", backupID: nil).result == nil)
        #expect(try store.revoke(agentID: "cam-1", reason: "stolen", at: "2026-01-01T00:00:00Z").result == .changed)
        #expect(try store.revoke(agentID: "nobody", reason: "x", at: "t").result == .unknown)
        var snapshot = try store.snapshot().registry
        #expect(snapshot["cam-1"]?.revoked?.reason == "stolen")
        #expect(snapshot["cam-1"]?.backupStreampoint == "sp1")
        // Re-enrolling keeps the assignment and the revocation.
        _ = try store.enroll(agentID: "cam-1", verifierHex: String(repeating: "cd", count: 32), streampoint: nil)
        snapshot = try store.snapshot().registry
        #expect(snapshot["cam-1"]?.verifier == String(repeating: "cd", count: 32))
        #expect(snapshot["cam-1"]?.streampoint == "sp2" && snapshot["cam-1"]?.revoked != nil)
        #expect(try store.unrevoke(agentID: "cam-1").result == .changed)
        #expect(try store.unrevoke(agentID: "cam-1").result == .unchanged)
        #expect(try store.snapshot().registry["cam-1"]?.revoked == nil)
    }

    @Test func unitsImportAllOrNoneAndKeepOnlyVerifiers() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        let good = UnitImport(agentID: nil, serial: "XM0001", activationSecret: Self.secret, model: "IPC", mac: nil)
        let clash = UnitImport(agentID: "cam-XM0001", serial: "XM0002", activationSecret: Self.secret, model: nil, mac: nil)
        #expect(throws: ValidationFailure.self) { try store.addUnits([good, clash]) }
        #expect(try store.snapshot().registry.units.isEmpty, "a failed import must leave nothing behind")
        let added = try store.addUnits([good]).result
        #expect(added.map(\.agentID) == ["cam-XM0001"])
        let text = registryBytes(scratch.path)
        #expect(!text.contains(Hex.encode(Self.secret)), "the activation secret must not be stored")
        #expect(text.contains(Hex.encode(Activation.verifier(activationSecret: Self.secret, serial: "XM0001"))))
    }

    @Test func activationIssuesOnceAndRecordsItsPresence() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        _ = try store.addUnits([UnitImport(agentID: nil, serial: "XM0001", activationSecret: Self.secret, model: nil, mac: nil)])
        let first = try store.activate(Self.request("XM0001"), newKey: [UInt8](repeating: 1, count: 32), at: "t1",
                                       presence: Self.presence("ep-a"), onlineHere: false, afterReset: false)
        guard case .issued("cam-XM0001", _, false) = first.result else { Issue.record("\(first.result)"); return }
        #expect(try store.presence(agentID: "cam-XM0001")?.kind == .activation)
        // Another endpoint, while the identity is held: refused, and the unit is flagged.
        let second = try store.activate(Self.request("XM0001"), newKey: [UInt8](repeating: 2, count: 32), at: "t2",
                                        presence: Self.presence("ep-b"), onlineHere: false, afterReset: false)
        guard case .refused(.identityConflict, _, _) = second.result else { Issue.record("\(second.result)"); return }
        let unit = try #require(try store.snapshot().registry.units["XM0001"])
        #expect(unit.activations == 1 && unit.cloneSuspected)
        #expect(try store.snapshot().registry.verifier(for: "cam-XM0001")
                == Authentication.verifier(deviceKey: [UInt8](repeating: 1, count: 32), agentID: "cam-XM0001"))
        // After the lease ran out (the first endpoint died before the unit logged in), it may activate again.
        let later = try store.activate(Self.request("XM0001"), newKey: [UInt8](repeating: 3, count: 32), at: "t3",
                                       presence: Self.presence("ep-b", now: 1_000_000 + PresenceRecord.activationLeaseSeconds + 1),
                                       onlineHere: false, afterReset: false)
        guard case .issued(_, _, true) = later.result else { Issue.record("\(later.result)"); return }
        // Revoked: refused whatever the presence.
        _ = try store.revoke(agentID: "cam-XM0001", reason: "lost", at: "t4")
        let revoked = try store.activate(Self.request("XM0001"), newKey: [UInt8](repeating: 4, count: 32), at: "t5",
                                         presence: Self.presence("ep-c", now: 2_000_000), onlineHere: false, afterReset: false)
        guard case .refused(.revoked, _, _) = revoked.result else { Issue.record("\(revoked.result)"); return }
    }

    @Test func sessionsClaimPresenceSeeClonesAndRevocationsAndLeasesLapse() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        _ = try store.enroll(agentID: "cam-1", verifierHex: Self.verifier, streampoint: nil)
        _ = try store.addUnits([UnitImport(agentID: "cam-1", serial: "S1", activationSecret: Self.secret, model: nil, mac: nil)])
        var claim = try store.claimSession(agentID: "cam-1", presence: Self.presence("ep-a", host: "192.0.2.1")).result
        #expect(claim == SessionClaim(revoked: nil, cloneOf: nil))
        // The same unit reconnecting at another endpoint from its address (a failover): no clone.
        claim = try store.claimSession(agentID: "cam-1", presence: Self.presence("ep-b", host: "192.0.2.1", now: 1_000_001)).result
        #expect(claim.cloneOf == nil)
        #expect(try store.presence(agentID: "cam-1")?.endpointID == "ep-b")
        // A second address while the session lives: a clone, seen across endpoints.
        claim = try store.claimSession(agentID: "cam-1", presence: Self.presence("ep-a", host: "198.51.100.7", now: 1_000_002)).result
        #expect(claim.cloneOf?.endpointID == "ep-b")
        #expect(try store.snapshot().registry.units["S1"]?.cloneSuspected == true)
        // A lease that ran out (its endpoint was killed) is no session.
        let late = 1_000_002 + PresenceRecord.sessionLeaseSeconds + 1
        claim = try store.claimSession(agentID: "cam-1", presence: Self.presence("ep-b", host: "192.0.2.1", now: late)).result
        #expect(claim.cloneOf == nil)
        // Renewal extends only the renewing endpoint's rows; release drops them.
        try store.renewPresence(endpointID: "ep-b", now: late + 20)
        #expect(try store.presence(agentID: "cam-1")?.leaseUntil == late + 20 + PresenceRecord.sessionLeaseSeconds)
        try store.releasePresence(agentID: "cam-1", endpointID: "ep-a")
        #expect(try store.presence(agentID: "cam-1") != nil, "another endpoint's row must stay")
        try store.releaseAllPresence(endpointID: "ep-b")
        #expect(try store.presence(agentID: "cam-1") == nil)
        // A revocation made anywhere is seen at the next login.
        _ = try store.revoke(agentID: "cam-1", reason: "stolen", at: "t")
        claim = try store.claimSession(agentID: "cam-1", presence: Self.presence("ep-a", now: late + 30)).result
        #expect(claim.revoked?.reason == "stolen")
        #expect(try store.presence(agentID: "cam-1") == nil, "a refused login holds no presence")
    }

    @Test func twoStoresOnOneFileSeeEachOthersChangesAndActivateASerialOnce() throws {
        let scratch = try Scratch()
        let main = try scratch.open(), backup = try scratch.open()
        defer { main.close(); backup.close() }
        let rounds = ProcessInfo.processInfo.environment["CAMAGENT_FULL"] == "1" ? 100 : 20
        let units = (1...rounds).map { UnitImport(agentID: nil, serial: "RACE\($0)", activationSecret: Self.secret, model: nil, mac: nil) }
        _ = try main.addUnits(units)
        #expect(try backup.snapshot().registry.units.count == rounds)
        var issuedPerRound: [Int] = []
        for round in 1...rounds {
            let issued = NIOLockedCounter()
            DispatchQueue.concurrentPerform(iterations: 2) { which in
                let store = which == 0 ? main : backup
                let result = try? store.activate(Self.request("RACE\(round)"), newKey: [UInt8](repeating: UInt8(which + 1), count: 32),
                                                 at: "t", presence: Self.presence(which == 0 ? "main" : "backup"),
                                                 onlineHere: false, afterReset: false)
                if case .issued = result?.result { issued.add() }
            }
            issuedPerRound.append(issued.value)
        }
        print("registry race (SQLite, two stores on one file): \(rounds) rounds, issued identities per round: \(Set(issuedPerRound))")
        #expect(issuedPerRound.allSatisfy { $0 == 1 }, "\(issuedPerRound)")
    }

    @Test func aDatabaseFromANewerBinaryIsRefusedWithAClearError() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        try store.database.transaction { session in
            try session.execute("UPDATE registry_meta SET value = ? WHERE name = 'schema'", [.int(Int64(SQLRegistryStore.schemaVersion + 1))])
        }
        store.close()
        #expect {
            try scratch.open()
        } throws: { error in
            "\(error)".contains("newer than this camagent-endpoint knows")
        }
    }

    @Test func jsonRegistriesAreOnlyImported() throws {
        #expect(throws: ValidationFailure.self) { try RegistryLocation(argument: "/var/lib/agents.json") }
        do {
            _ = try RegistryLocation(argument: "agents.json")
        } catch {
            #expect("\(error)".contains("import-registry"))
        }
        #expect(try RegistryLocation(argument: "postgres://cam@db.example.net:5433/reg")
                == .postgres(.init(user: "cam", password: nil, host: "db.example.net", port: 5433, database: "reg", unixSocketPath: nil)))
        #expect(try RegistryLocation(argument: "postgres://cam@/reg?host=/run/postgresql")
                == .postgres(.init(user: "cam", password: nil, host: "localhost", port: 5432, database: "reg",
                                   unixSocketPath: "/run/postgresql/.s.PGSQL.5432")))

        let scratch = try Scratch()
        var old = Registry()
        old.upsert(AgentRecord(id: "cam-1", verifier: Self.verifier, streampoint: "sp1"))
        try old.addUnit(serial: "XM0001", activationSecret: Self.secret, agentID: nil, model: nil, mac: nil)
        let json = scratch.directory.appendingPathComponent("agents.json").path
        try old.encoded().write(to: URL(fileURLWithPath: json))
        let store = try scratch.open()
        defer { store.close() }
        _ = try store.importRegistry(try Registry.importJSON(path: json))
        #expect(try store.snapshot().registry == old)
    }
}

/// A thread-safe counter for the race.
final class NIOLockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

func registryBytes(_ path: String) -> String {
    [path, path + "-wal"].compactMap { FileManager.default.contents(atPath: $0) }
        .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
}
