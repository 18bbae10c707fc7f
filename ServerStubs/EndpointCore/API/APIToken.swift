import CamNIO
import CamProtocol

/// What a bearer token may do under /api/. Kept apart so a leaked streampoint
/// token cannot reach the operators' API, and an admin script cannot pose as a
/// streampoint.
public enum APIRole: String, Sendable, CaseIterable {
    /// All of /api/ except the streampoint channel.
    case admin
    /// Only /api/streampoint-channel.
    case streampoint
}

/// One row of api_tokens: the token itself is never stored, only its hash.
public struct APITokenRecord: Sendable, Equatable {
    public var name: String
    public var role: APIRole
    /// Hex SHA-256 of the token text.
    public var hash: String
    public var createdAt: String
    public var lastUsedAt: String?

    public init(name: String, role: APIRole, hash: String, createdAt: String, lastUsedAt: String? = nil) {
        self.name = name
        self.role = role
        self.hash = hash
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

/// Bearer tokens: `cat_` and 43 base64url characters (32 random bytes), so a
/// token pasted into a log or a ticket is recognisable as one.
public enum APIToken {
    public static let prefix = "cat_"
    static let randomBytes = 32

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<randomBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(bytes)
    }

    /// Hex SHA-256 of the token as presented: what the registry stores and compares.
    public static func hash(_ token: String) -> [UInt8] {
        var sha = SHA256()
        sha.update(Array(token.utf8))
        return sha.finalize()
    }

    public static func hashHex(_ token: String) -> String {
        Hex.encode(hash(token))
    }

    /// Base64url without padding (RFC 4648 §5), as viewer tokens spell it.
    static func base64URL(_ bytes: [UInt8]) -> String { Base64URL.encode(bytes) }
}
