import Hummingbird

/// Who made an /api/ request, as an authenticator proved it.
public struct APIPrincipal: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A bearer token (`token add`): scripts, tests, streampoints.
        case token
        /// A logged-in operator of the web console.
        case session
    }

    /// The token's name, or the operator's.
    public var name: String
    public var role: APIRole
    public var kind: Kind

    public init(name: String, role: APIRole, kind: Kind) {
        self.name = name
        self.role = role
        self.kind = kind
    }
}

/// One way of proving who calls /api/. The auth middleware asks each in turn;
/// the first that recognises the request decides. Returns nil when the request
/// carries nothing this authenticator knows (so the next one may try), throws
/// APIError when it carries a credential that is wrong.
public protocol APIAuthenticator: Sendable {
    func authenticate(_ request: Request, context: APIRequestContext) async throws -> APIPrincipal?
}
