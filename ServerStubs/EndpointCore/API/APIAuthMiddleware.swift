import CamProtocol
import HTTPTypes
import Hummingbird

/// Guards everything under /api/: the authenticators are asked in order (bearer
/// tokens, and the console's sessions once it plugs in), then the role decides.
/// A streampoint token may only open the streampoint channel; an admin token
/// may use all of /api/ except that channel. Paths outside /api/ pass untouched
/// (/health, later the console's pages and login).
public struct APIAuthMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    public static let apiPrefix = "/api/"
    public static let streampointChannelPath = "/api/streampoint-channel"

    private let authenticators: [any APIAuthenticator]

    public init(authenticators: [any APIAuthenticator]) {
        self.authenticators = authenticators
    }

    public func handle(_ request: Request, context: APIRequestContext,
                       next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix(Self.apiPrefix) || path == "/api" else { return try await next(request, context) }
        var principal: APIPrincipal?
        for authenticator in authenticators {
            if let found = try await authenticator.authenticate(request, context: context) {
                principal = found
                break
            }
        }
        guard let principal else { throw Self.missingCredentials }
        let wantsChannel = Self.normalized(path) == Self.streampointChannelPath
        switch (principal.role, wantsChannel) {
        case (.admin, false), (.streampoint, true):
            break
        case (.streampoint, false):
            throw APIError(.forbidden, "a streampoint token may only open \(Self.streampointChannelPath)")
        case (.admin, true):
            throw Self.adminOnChannel
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }

    static let missingCredentials = APIError(
        .unauthorized, "authentication required: send Authorization: Bearer <token> (camagent-endpoint token add)",
        headers: challenge(error: nil))
    static let adminOnChannel = APIError(.forbidden, "\(streampointChannelPath) needs a token with role streampoint")

    static func normalized(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// RFC 6750 §3: every 401 names the scheme, and says why a token was refused.
    public static func challenge(error: String?) -> HTTPFields {
        var value = "Bearer realm=\"camagent\""
        if let error { value += ", error=\"\(error)\"" }
        return [.wwwAuthenticate: value]
    }
}
