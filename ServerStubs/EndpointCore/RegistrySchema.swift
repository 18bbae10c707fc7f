import CamNIO

/// The registry's tables, as numbered migrations run at start. A migration is
/// never edited once released: a change is a new one appended here (API tokens
/// came as migration 2, the console's operators as 3, viewer-token keys as 4,
/// camera media settings as 5).
enum RegistrySchema {
    /// Statements that SQLite and PostgreSQL both accept as written.
    static let migrations: [[String]] = [
        // 1: agents, factory units, and who is online where.
        [
            """
            CREATE TABLE agents (
                id TEXT PRIMARY KEY,
                verifier TEXT NOT NULL,
                streampoint TEXT,
                backup_streampoint TEXT,
                revoked_reason TEXT,
                revoked_at TEXT)
            """,
            """
            CREATE TABLE units (
                serial TEXT PRIMARY KEY,
                agent_id TEXT NOT NULL UNIQUE,
                activation_verifier TEXT NOT NULL,
                model TEXT,
                mac TEXT,
                state TEXT NOT NULL,
                activations BIGINT NOT NULL,
                last_activation TEXT,
                clone_suspected BIGINT NOT NULL,
                revoked_reason TEXT,
                revoked_at TEXT)
            """,
            // One row per agent online (or just activated) at some endpoint; a
            // row whose lease has run out means nothing (its endpoint died).
            """
            CREATE TABLE presence (
                agent_id TEXT PRIMARY KEY,
                endpoint_id TEXT NOT NULL,
                remote_host TEXT NOT NULL,
                kind TEXT NOT NULL,
                lease_until BIGINT NOT NULL)
            """,
            "CREATE INDEX presence_endpoint ON presence (endpoint_id)",
            "INSERT INTO registry_meta (name, value) VALUES ('generation', 0)",
        ],
        // 2: bearer tokens for /api/ (admins' scripts, streampoints' channel).
        // Only the SHA-256 of a token is kept: the registry never holds one a
        // reader could replay.
        [
            """
            CREATE TABLE api_tokens (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                last_used_at TEXT)
            """,
        ],
        // 3: the console's operators (PBKDF2 hashes), their sessions (only the
        // SHA-256 of each session id), and the audit trail of operator actions.
        [
            """
            CREATE TABLE operators (
                name TEXT PRIMARY KEY,
                password_hash TEXT NOT NULL,
                salt TEXT NOT NULL,
                iterations BIGINT NOT NULL,
                created_at TEXT NOT NULL)
            """,
            """
            CREATE TABLE console_sessions (
                id_hash TEXT PRIMARY KEY,
                operator TEXT NOT NULL,
                csrf_token TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL)
            """,
            "CREATE INDEX console_sessions_operator ON console_sessions (operator)",
            """
            CREATE TABLE audit (
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                result TEXT NOT NULL)
            """,
            "CREATE INDEX audit_at ON audit (at)",
        ],
        // 4: the keys viewer tokens are signed with (docs/PROTOCOL.md §16), hex.
        // Kept as they are, not hashed: the endpoint must hand each to its
        // streampoints to verify with (an HMAC key has no public half). The
        // registry already holds what a reader could abuse as badly (agent
        // verifiers), so it is guarded as a secret store either way.
        [
            """
            CREATE TABLE viewer_token_keys (
                id BIGINT PRIMARY KEY,
                secret TEXT NOT NULL,
                created_at TEXT NOT NULL)
            """,
        ],
        // 5: how streampoints pull each camera target: an RTSP path override and
        // the camera's own credentials (docs/MEDIA.md). The password is kept as it
        // is, not hashed: the streampoint must answer the camera's Digest
        // challenge with it. Like viewer_token_keys, the registry is guarded as a
        // secret store; the API and the logs never show a password.
        [
            """
            CREATE TABLE camera_media (
                agent_id TEXT NOT NULL,
                target TEXT NOT NULL,
                path TEXT,
                username TEXT,
                password TEXT,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (agent_id, target))
            """,
        ],
    ]

    static var latestVersion: Int { migrations.count }

    /// Brings the database to `latestVersion` in one transaction; refuses a
    /// database written by a newer camagent-endpoint.
    static func migrate(_ database: SQLDatabase) throws -> (from: Int, to: Int) {
        try database.transaction { session in
            if database.dialect == .postgres {
                // Two endpoints starting together: one migrates, the other waits and finds it done.
                try session.execute("SELECT pg_advisory_xact_lock(7412093)", [])
            }
            try session.execute("CREATE TABLE IF NOT EXISTS registry_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)", [])
            try session.execute("INSERT INTO registry_meta (name, value) VALUES ('schema', 0) ON CONFLICT (name) DO NOTHING", [])
            let current = Int(try session.rows("SELECT value FROM registry_meta WHERE name = 'schema'", [])
                .first?.first?.integer ?? 0)
            guard current <= latestVersion else {
                throw ValidationFailure("""
                    registry \(database.displayName) has schema version \(current), newer than this \
                    camagent-endpoint knows (\(latestVersion)); use the camagent-endpoint that wrote it, or a newer one
                    """)
            }
            for version in current..<latestVersion {
                for statement in migrations[version] { try session.execute(statement, []) }
            }
            try session.execute("UPDATE registry_meta SET value = ? WHERE name = 'schema'", [.int(Int64(latestVersion))])
            return (current, latestVersion)
        }
    }
}
