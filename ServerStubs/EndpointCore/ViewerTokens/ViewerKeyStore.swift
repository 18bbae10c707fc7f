import CamNIO
import CamProtocol

/// The viewer-token signing keys in the registry (table viewer_token_keys):
/// the newest signs, the ones before it still verify until rotated out.
/// Every change moves the registry generation, so every endpoint sharing the
/// registry reloads and sends the new set down its streampoint channels.
public protocol ViewerKeyStore: AnyObject, Sendable {
    /// Newest first.
    func viewerTokenKeys() throws -> [ViewerTokenKeyRecord]
    /// Adds key 1 with `secret` if there is no key at all (a fresh registry); returns the set.
    func ensureViewerTokenKey(secret: [UInt8], at: String) throws -> [ViewerTokenKeyRecord]
    /// Adds a new newest key and keeps only the `keep` newest (current + previous: 2).
    func rotateViewerTokenKey(secret: [UInt8], at: String, keep: Int) throws -> [ViewerTokenKeyRecord]
}

public struct ViewerTokenKeyRecord: Sendable, Equatable {
    public var key: ViewerTokenKey
    public var createdAt: String

    public init(key: ViewerTokenKey, createdAt: String) {
        self.key = key
        self.createdAt = createdAt
    }
}

public enum ViewerKeys {
    /// Current and previous: a token signed just before a rotation keeps working
    /// until the next one (or until it expires, at most maxTTL later).
    public static let kept = 2

    public static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<ViewerTokenKey.secretSize).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

extension SQLRegistryStore: ViewerKeyStore {
    public func viewerTokenKeys() throws -> [ViewerTokenKeyRecord] {
        try prepare()
        return try database.read { session in try Self.viewerKeyRows(session) }
    }

    public func ensureViewerTokenKey(secret: [UInt8], at: String) throws -> [ViewerTokenKeyRecord] {
        try prepare()
        return try database.transaction { session in
            let existing = try Self.viewerKeyRows(session)
            guard existing.isEmpty else { return existing }
            // Two endpoints starting on one fresh registry: the second's insert does nothing, both read key 1.
            try session.execute("INSERT INTO viewer_token_keys (id, secret, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                                [.text(Hex.encode(secret)), .text(at)])
            try RegistryRows.bumpGeneration(session)
            return try Self.viewerKeyRows(session)
        }
    }

    public func rotateViewerTokenKey(secret: [UInt8], at: String, keep: Int) throws -> [ViewerTokenKeyRecord] {
        try prepare()
        return try database.transaction { session in
            let newest = try session.rows("SELECT MAX(id) FROM viewer_token_keys", []).first?.first?.integer ?? 0
            let id = newest + 1
            guard id <= Int64(UInt32.max) else { throw ValidationFailure("viewer-token key ids are exhausted") }
            try session.execute("INSERT INTO viewer_token_keys (id, secret, created_at) VALUES (?, ?, ?)",
                                [.int(id), .text(Hex.encode(secret)), .text(at)])
            try session.execute("DELETE FROM viewer_token_keys WHERE id <= ?", [.int(id - Int64(max(1, keep)))])
            try RegistryRows.bumpGeneration(session)
            return try Self.viewerKeyRows(session)
        }
    }

    static func viewerKeyRows(_ session: SQLSession) throws -> [ViewerTokenKeyRecord] {
        try session.rows("SELECT id, secret, created_at FROM viewer_token_keys ORDER BY id DESC", []).map { row in
            guard row.count == 3, let id = row[0].integer, let id32 = UInt32(exactly: id), let hex = row[1].string,
                  let secret = Hex.decode(hex), secret.count == ViewerTokenKey.secretSize, let created = row[2].string
            else { throw ValidationFailure("registry: a viewer_token_keys row is malformed") }
            return ViewerTokenKeyRecord(key: ViewerTokenKey(id: id32, secret: secret), createdAt: created)
        }
    }
}
