import CamNIO

/// ConsoleStore on the registry's SQL database (SQLite or PostgreSQL, the same statements).
extension SQLRegistryStore: ConsoleStore {
    static let operatorColumns = "name, password_hash, salt, iterations, created_at"

    public func addOperator(_ record: OperatorRecord) throws -> Bool {
        try prepare()
        return try database.transaction { session in
            guard try session.rows("SELECT name FROM operators WHERE name = ?", [.text(record.name)]).isEmpty else { return false }
            try session.execute("INSERT INTO operators (\(Self.operatorColumns)) VALUES (?, ?, ?, ?, ?)",
                                [.text(record.name), .text(record.password.hashHex), .text(record.password.saltHex),
                                 .int(Int64(record.password.iterations)), .text(record.createdAt)])
            return true
        }
    }

    public func operatorRecord(name: String) throws -> OperatorRecord? {
        try prepare()
        return try database.read { session in
            try session.rows("SELECT \(Self.operatorColumns) FROM operators WHERE name = ?", [.text(name)]).first.map(Self.operatorRow)
        }
    }

    public func operators() throws -> [OperatorRecord] {
        try prepare()
        return try database.read { session in
            try session.rows("SELECT \(Self.operatorColumns) FROM operators ORDER BY name", []).map(Self.operatorRow)
        }
    }

    public func removeOperator(name: String) throws -> Bool {
        try prepare()
        return try database.transaction { session in
            guard !(try session.rows("SELECT name FROM operators WHERE name = ?\(database.dialect.forUpdate)", [.text(name)]).isEmpty)
            else { return false }
            try session.execute("DELETE FROM console_sessions WHERE operator = ?", [.text(name)])
            try session.execute("DELETE FROM operators WHERE name = ?", [.text(name)])
            return true
        }
    }

    public func createSession(idHash: String, _ record: ConsoleSessionRecord, now: Int64) throws {
        try prepare()
        try database.transaction { session in
            try session.execute("DELETE FROM console_sessions WHERE expires_at <= ?", [.int(now)])
            try session.execute("INSERT INTO console_sessions (id_hash, operator, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                                [.text(idHash), .text(record.operatorName), .text(record.csrfToken), .int(now), .int(record.expiresAt)])
        }
    }

    public func session(idHash: String, now: Int64) throws -> ConsoleSessionRecord? {
        try prepare()
        return try database.read { session in
            // The join drops sessions of operators removed meanwhile (by the CLI, maybe at another endpoint).
            guard let row = try session.rows("""
                SELECT s.operator, s.csrf_token, s.expires_at FROM console_sessions s
                JOIN operators o ON o.name = s.operator WHERE s.id_hash = ? AND s.expires_at > ?
                """, [.text(idHash), .int(now)]).first,
                row.count == 3, let name = row[0].string, let csrf = row[1].string, let expires = row[2].integer
            else { return nil }
            return ConsoleSessionRecord(operatorName: name, csrfToken: csrf, expiresAt: expires)
        }
    }

    public func deleteSession(idHash: String) throws {
        try prepare()
        try database.transaction { session in
            try session.execute("DELETE FROM console_sessions WHERE id_hash = ?", [.text(idHash)])
        }
    }

    public func appendAudit(_ entry: AuditEntry) throws {
        try prepare()
        try database.transaction { session in
            try session.execute("INSERT INTO audit (at, actor, action, target, result) VALUES (?, ?, ?, ?, ?)",
                                [.text(entry.at), .text(entry.actor), .text(entry.action), .text(entry.target), .text(entry.result)])
        }
    }

    public func auditTrail(limit: Int) throws -> [AuditEntry] {
        try prepare()
        return try database.read { session in
            // ISO timestamps to the millisecond sort as text; ties keep insertion order only roughly, which is enough to read.
            try session.rows("SELECT at, actor, action, target, result FROM audit ORDER BY at DESC LIMIT ?", [.int(Int64(max(0, limit)))])
                .map { row in
                    guard row.count == 5, let at = row[0].string, let actor = row[1].string, let action = row[2].string,
                          let target = row[3].string, let result = row[4].string
                    else { throw ValidationFailure("registry: an audit row is malformed") }
                    return AuditEntry(at: at, actor: actor, action: action, target: target, result: result)
                }
        }
    }

    static func operatorRow(_ row: [SQLValue]) throws -> OperatorRecord {
        guard row.count == 5, let name = row[0].string, let hash = row[1].string, let salt = row[2].string,
              let iterations = row[3].integer, let created = row[4].string
        else { throw ValidationFailure("registry: an operators row is malformed") }
        return OperatorRecord(name: name, password: PasswordHash(hashHex: hash, saltHex: salt, iterations: Int(iterations)),
                              createdAt: created)
    }
}
