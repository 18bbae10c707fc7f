import CamNIO
import CamProtocol
import NIOConcurrencyHelpers

/// RegistryStore on SQL: the same statements on SQLite (SQLiteDatabase) and on
/// PostgreSQL (PostgresDatabase). Each operation loads the few rows it needs
/// (locked), applies the pure decision of Registry, and writes back only what
/// changed.
public final class SQLRegistryStore: RegistryStore, @unchecked Sendable {
    let database: SQLDatabase
    private let migrated = NIOLockedValueBox(false)

    public var displayName: String { database.displayName }

    /// Opens the database and migrates it to this binary's schema.
    public static func open(_ location: RegistryLocation) throws -> SQLRegistryStore {
        let store = try SQLRegistryStore(location)
        do {
            try store.prepare()
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// Opens the database without touching it yet (a server may be away):
    /// `prepare` (or the first operation) migrates.
    public init(_ location: RegistryLocation) throws {
        database = try location.openDatabase()
    }

    init(database: SQLDatabase) {
        self.database = database
    }

    /// Migrates once per process. Throws ValidationFailure for a database newer
    /// than this binary, RegistryUnavailable while the database is away.
    public func prepare() throws {
        guard !migrated.withLockedValue({ $0 }) else { return }
        _ = try RegistrySchema.migrate(database)
        migrated.withLockedValue { $0 = true }
    }

    private func transaction<Result>(_ body: (SQLSession) throws -> Result) throws -> Result {
        try prepare()
        return try database.transaction(body)
    }

    public static var schemaVersion: Int { RegistrySchema.latestVersion }

    public func snapshot() throws -> (registry: Registry, generation: Int64) {
        try prepare()
        return try database.read { try RegistryRows.loadAll($0) }
    }

    public func generation() throws -> Int64 {
        try prepare()
        return try database.read { try RegistryRows.generation($0) }
    }

    /// Loads a slice, lets `change` edit it, writes the difference: one transaction.
    private func change<Result>(serials: Set<String> = [], agentIDs: Set<String> = [],
                                _ change: (inout RegistrySlice) throws -> Result) throws -> RegistryChange<Result> {
        try transaction { session in
            let before = try RegistryRows.loadSlice(session, dialect: database.dialect, serials: serials, agentIDs: agentIDs)
            var after = before
            let result = try change(&after)
            try RegistryRows.write(session, before: before, after: after)
            return RegistryChange(result: result, records: after.registry)
        }
    }

    public func enroll(agentID: String, verifierHex: String, streampoint: String?) throws -> RegistryChange<AgentRecord> {
        try change(agentIDs: [agentID]) { slice in
            let existing = slice.registry[agentID]
            let record = AgentRecord(id: agentID, verifier: verifierHex, streampoint: streampoint ?? existing?.streampoint,
                                     revoked: existing?.revoked, backupStreampoint: existing?.backupStreampoint)
            slice.registry.upsert(record)
            return record
        }
    }

    public func addUnits(_ units: [UnitImport]) throws -> RegistryChange<[UnitRecord]> {
        let serials = Set(units.map(\.serial))
        let agentIDs = Set(units.compactMap { $0.agentID ?? UnitRecord.defaultAgentID(serial: $0.serial) })
        return try change(serials: serials, agentIDs: agentIDs) { slice in
            for unit in units {
                try slice.registry.addUnit(serial: unit.serial, activationSecret: unit.activationSecret,
                                           agentID: unit.agentID, model: unit.model, mac: unit.mac)
            }
            return units.map { slice.registry.units[$0.serial]! }
        }
    }

    public func importRegistry(_ imported: Registry) throws -> RegistryChange<Int> {
        try change(serials: Set(imported.units.keys), agentIDs: Set(imported.agents.keys)) { slice in
            for agent in imported.sortedAgents { slice.registry.upsert(agent) }
            for unit in imported.sortedUnits {
                if let other = slice.registry.unit(agentID: unit.agentID), other.serial != unit.serial {
                    throw ValidationFailure("unit \(unit.serial): agent id \(unit.agentID) already belongs to unit \(other.serial) in \(displayName)")
                }
                slice.registry.upsertUnit(unit)
            }
            return imported.agents.count + imported.units.count
        }
    }

    public func revoke(agentID: String, reason: String, at: String) throws -> RegistryChange<Registry.RevocationChange> {
        try change(agentIDs: [agentID]) { $0.registry.revoke(agentID: agentID, reason: reason, at: at) }
    }

    public func unrevoke(agentID: String) throws -> RegistryChange<Registry.RevocationChange> {
        try change(agentIDs: [agentID]) { $0.registry.unrevoke(agentID: agentID) }
    }

    public func assign(agentID: String, streampointID: String, backupID: String?) throws -> RegistryChange<AgentRecord?> {
        try change(agentIDs: [agentID]) { slice in
            guard var record = slice.registry[agentID] else { return nil }
            record.streampoint = streampointID
            record.backupStreampoint = backupID
            slice.registry.upsert(record)
            return record
        }
    }

    public func activate(_ request: ActivationRequest, newKey: [UInt8], at: String, presence: PresenceContext,
                         onlineHere: Bool, afterReset: Bool) throws -> RegistryChange<ActivationOutcome> {
        try change(serials: [request.serial]) { slice in
            let outcome = slice.registry.activate(request, newKey: newKey, isOnline: { agentID in
                guard !afterReset else { return false }
                if onlineHere { return true }
                guard let row = slice.presence[agentID] else { return false }
                return row.isLive(now: presence.now) && row.endpointID != presence.endpointID
            }, at: at)
            if case .issued(let agentID, _, _) = outcome {
                slice.presence[agentID] = PresenceRecord(
                    agentID: agentID, endpointID: presence.endpointID, remoteHost: presence.remoteHost, kind: .activation,
                    leaseUntil: presence.now + PresenceRecord.activationLeaseSeconds)
            }
            return outcome
        }
    }

    public func claimSession(agentID: String, presence: PresenceContext) throws -> RegistryChange<SessionClaim> {
        try change(agentIDs: [agentID]) { slice in
            if let revocation = slice.registry.revocation(ofAgent: agentID) {
                return SessionClaim(revoked: revocation, cloneOf: nil)
            }
            var clone: PresenceRecord?
            // At this endpoint or another: a live session from a second address.
            if let row = slice.presence[agentID], row.kind == .session, row.isLive(now: presence.now),
               row.remoteHost != presence.remoteHost {
                clone = row
                _ = slice.registry.flagClone(agentID: agentID)
            }
            slice.presence[agentID] = PresenceRecord(
                agentID: agentID, endpointID: presence.endpointID, remoteHost: presence.remoteHost, kind: .session,
                leaseUntil: presence.now + PresenceRecord.sessionLeaseSeconds)
            return SessionClaim(revoked: nil, cloneOf: clone)
        }
    }

    public func renewPresence(endpointID: String, now: Int64) throws {
        try transaction { session in
            try session.execute("UPDATE presence SET lease_until = ? WHERE endpoint_id = ? AND kind = 'session'",
                                [.int(now + PresenceRecord.sessionLeaseSeconds), .text(endpointID)])
            // Rows of endpoints that died long ago: nobody renews them any more.
            try session.execute("DELETE FROM presence WHERE lease_until < ?", [.int(now - 10 * PresenceRecord.sessionLeaseSeconds)])
        }
    }

    public func releasePresence(agentID: String, endpointID: String) throws {
        try transaction { session in
            try session.execute("DELETE FROM presence WHERE agent_id = ? AND endpoint_id = ?", [.text(agentID), .text(endpointID)])
        }
    }

    public func releaseAllPresence(endpointID: String) throws {
        try transaction { session in
            try session.execute("DELETE FROM presence WHERE endpoint_id = ?", [.text(endpointID)])
        }
    }

    public func presence(agentID: String) throws -> PresenceRecord? {
        try prepare()
        return try database.read { session in
            try session.rows("SELECT \(RegistryRows.presenceColumns) FROM presence WHERE agent_id = ?", [.text(agentID)])
                .first.map(RegistryRows.presence)
        }
    }

    public func addAPIToken(_ token: APITokenRecord) throws {
        try transaction { session in
            let taken = try session.rows("SELECT name FROM api_tokens WHERE name = ?", [.text(token.name)])
            guard taken.isEmpty else {
                throw ValidationFailure("a token named \(token.name) exists already; revoke it first (token revoke --name \(token.name))")
            }
            try session.execute("INSERT INTO api_tokens (name, role, hash, created_at, last_used_at) VALUES (?, ?, ?, ?, NULL)",
                                [.text(token.name), .text(token.role.rawValue), .text(token.hash), .text(token.createdAt)])
        }
    }

    public func apiTokens() throws -> [APITokenRecord] {
        try prepare()
        return try database.read { session in
            try session.rows("SELECT name, role, hash, created_at, last_used_at FROM api_tokens ORDER BY name", []).map { row in
                guard row.count == 5, let name = row[0].string, let roleText = row[1].string,
                      let role = APIRole(rawValue: roleText), let hash = row[2].string, let created = row[3].string
                else { throw ValidationFailure("registry: an api_tokens row is malformed") }
                return APITokenRecord(name: name, role: role, hash: hash, createdAt: created, lastUsedAt: row[4].string)
            }
        }
    }

    public func revokeAPIToken(name: String) throws -> Bool {
        try transaction { session in
            let found = try session.rows("SELECT name FROM api_tokens WHERE name = ?", [.text(name)])
            guard !found.isEmpty else { return false }
            try session.execute("DELETE FROM api_tokens WHERE name = ?", [.text(name)])
            return true
        }
    }

    public func markAPITokenUsed(name: String, at: String) throws {
        try transaction { session in
            try session.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", [.text(at), .text(name)])
        }
    }

    public func close() {
        database.close()
    }
}
