import CamNIO

/// The rows one transaction works on, and their mapping to and from SQL.
struct RegistrySlice {
    var registry = Registry()
    var presence: [String: PresenceRecord] = [:]
}

enum RegistryRows {
    static let agentColumns = "id, verifier, streampoint, backup_streampoint, revoked_reason, revoked_at"
    static let unitColumns = "serial, agent_id, activation_verifier, model, mac, state, activations, last_activation, clone_suspected, revoked_reason, revoked_at"
    static let presenceColumns = "agent_id, endpoint_id, remote_host, kind, lease_until"
    /// Keys per IN (…) list: well inside SQLite's and PostgreSQL's argument limits.
    static let chunk = 400

    // MARK: reading

    static func agent(_ row: [SQLValue]) throws -> AgentRecord {
        guard row.count == 6, let id = row[0].string, let verifier = row[1].string else {
            throw ValidationFailure("registry: an agents row is malformed")
        }
        return AgentRecord(id: id, verifier: verifier, streampoint: row[2].string,
                           revoked: revocation(reason: row[4], at: row[5]), backupStreampoint: row[3].string)
    }

    static func unit(_ row: [SQLValue]) throws -> UnitRecord {
        guard row.count == 11, let serial = row[0].string, let agentID = row[1].string, let verifier = row[2].string,
              let stateText = row[5].string, let state = UnitRecord.State(rawValue: stateText),
              let activations = row[6].integer, let clone = row[8].integer
        else { throw ValidationFailure("registry: a units row is malformed") }
        var unit = UnitRecord(serial: serial, activationVerifier: verifier, agentID: agentID,
                              model: row[3].string, mac: row[4].string)
        unit.state = state
        unit.activations = Int(activations)
        unit.lastActivation = row[7].string
        unit.cloneSuspected = clone != 0
        unit.revoked = revocation(reason: row[9], at: row[10])
        return unit
    }

    static func presence(_ row: [SQLValue]) throws -> PresenceRecord {
        guard row.count == 5, let agentID = row[0].string, let endpoint = row[1].string, let host = row[2].string,
              let kindText = row[3].string, let kind = PresenceRecord.Kind(rawValue: kindText), let lease = row[4].integer
        else { throw ValidationFailure("registry: a presence row is malformed") }
        return PresenceRecord(agentID: agentID, endpointID: endpoint, remoteHost: host, kind: kind, leaseUntil: lease)
    }

    private static func revocation(reason: SQLValue, at: SQLValue) -> Revocation? {
        reason.string.map { Revocation(reason: $0, at: at.string) }
    }

    /// Everything, for the endpoint's cache and `GET /api/agents`.
    static func loadAll(_ session: SQLSession) throws -> (registry: Registry, generation: Int64) {
        var registry = Registry()
        for row in try session.rows("SELECT \(agentColumns) FROM agents", []) { registry.upsert(try agent(row)) }
        for row in try session.rows("SELECT \(unitColumns) FROM units", []) { registry.upsertUnit(try unit(row)) }
        return (registry, try generation(session))
    }

    static func generation(_ session: SQLSession) throws -> Int64 {
        try session.rows("SELECT value FROM registry_meta WHERE name = 'generation'", []).first?.first?.integer ?? 0
    }

    /// The units named by serial or agent id, the agents named or belonging to
    /// those units, and their presence rows; locked until the transaction ends
    /// where the database locks rows.
    static func loadSlice(_ session: SQLSession, dialect: SQLDialect, serials: Set<String>, agentIDs: Set<String>) throws -> RegistrySlice {
        var slice = RegistrySlice()
        for keys in chunks(Array(serials)) {
            for row in try session.rows("SELECT \(unitColumns) FROM units WHERE serial IN (\(marks(keys.count)))\(dialect.forUpdate)",
                                        keys.map { .text($0) }) {
                slice.registry.upsertUnit(try unit(row))
            }
        }
        for keys in chunks(Array(agentIDs)) {
            for row in try session.rows("SELECT \(unitColumns) FROM units WHERE agent_id IN (\(marks(keys.count)))\(dialect.forUpdate)",
                                        keys.map { .text($0) }) {
                slice.registry.upsertUnit(try unit(row))
            }
        }
        let allAgents = agentIDs.union(slice.registry.units.values.map(\.agentID))
        for keys in chunks(Array(allAgents)) {
            for row in try session.rows("SELECT \(agentColumns) FROM agents WHERE id IN (\(marks(keys.count)))\(dialect.forUpdate)",
                                        keys.map { .text($0) }) {
                slice.registry.upsert(try agent(row))
            }
            for row in try session.rows("SELECT \(presenceColumns) FROM presence WHERE agent_id IN (\(marks(keys.count)))\(dialect.forUpdate)",
                                        keys.map { .text($0) }) {
                let record = try presence(row)
                slice.presence[record.agentID] = record
            }
        }
        return slice
    }

    // MARK: writing

    /// Writes what changed between `before` and `after` (rows are never deleted
    /// from agents or units), and counts a registry change in the generation
    /// that endpoints poll to refresh their caches.
    static func write(_ session: SQLSession, before: RegistrySlice, after: RegistrySlice) throws {
        var changed = false
        for (id, record) in after.registry.agents where before.registry[id] != record {
            try upsert(session, record)
            changed = true
        }
        for (serial, record) in after.registry.units where before.registry.units[serial] != record {
            if let old = before.registry.units[serial], old.agentID != record.agentID {
                // Free the old agent id first: agent_id is UNIQUE.
                try session.execute("UPDATE units SET agent_id = ? WHERE serial = ?", [.text("~moving~" + serial), .text(serial)])
            }
            try upsert(session, record)
            changed = true
        }
        for (agentID, record) in after.presence where before.presence[agentID] != record {
            try upsert(session, record)
        }
        for agentID in before.presence.keys where after.presence[agentID] == nil {
            try session.execute("DELETE FROM presence WHERE agent_id = ?", [.text(agentID)])
        }
        if changed { try bumpGeneration(session) }
    }

    static func bumpGeneration(_ session: SQLSession) throws {
        try session.execute("UPDATE registry_meta SET value = value + 1 WHERE name = 'generation'", [])
    }

    static func upsert(_ session: SQLSession, _ agent: AgentRecord) throws {
        try session.execute("""
            INSERT INTO agents (\(agentColumns)) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET verifier = excluded.verifier, streampoint = excluded.streampoint,
                backup_streampoint = excluded.backup_streampoint, revoked_reason = excluded.revoked_reason,
                revoked_at = excluded.revoked_at
            """, [.text(agent.id), .text(agent.verifier), SQLValue(agent.streampoint), SQLValue(agent.backupStreampoint),
                  SQLValue(agent.revoked?.reason), SQLValue(agent.revoked?.at)])
    }

    static func upsert(_ session: SQLSession, _ unit: UnitRecord) throws {
        try session.execute("""
            INSERT INTO units (\(unitColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (serial) DO UPDATE SET agent_id = excluded.agent_id,
                activation_verifier = excluded.activation_verifier, model = excluded.model, mac = excluded.mac,
                state = excluded.state, activations = excluded.activations, last_activation = excluded.last_activation,
                clone_suspected = excluded.clone_suspected, revoked_reason = excluded.revoked_reason,
                revoked_at = excluded.revoked_at
            """, [.text(unit.serial), .text(unit.agentID), .text(unit.activationVerifier), SQLValue(unit.model),
                  SQLValue(unit.mac), .text(unit.state.rawValue), SQLValue(unit.activations), SQLValue(unit.lastActivation),
                  .int(unit.cloneSuspected ? 1 : 0), SQLValue(unit.revoked?.reason), SQLValue(unit.revoked?.at)])
    }

    static func upsert(_ session: SQLSession, _ presence: PresenceRecord) throws {
        try session.execute("""
            INSERT INTO presence (\(presenceColumns)) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (agent_id) DO UPDATE SET endpoint_id = excluded.endpoint_id, remote_host = excluded.remote_host,
                kind = excluded.kind, lease_until = excluded.lease_until
            """, [.text(presence.agentID), .text(presence.endpointID), .text(presence.remoteHost),
                  .text(presence.kind.rawValue), .int(presence.leaseUntil)])
    }

    static func marks(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    static func chunks(_ keys: [String]) -> [[String]] {
        stride(from: 0, to: keys.count, by: chunk).map { Array(keys[$0..<min($0 + chunk, keys.count)]) }
    }
}
