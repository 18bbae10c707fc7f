import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A console session as an /api/ credential, after bearer tokens: the cookie
/// `camagent_session` of a logged-in operator. A state-changing request must
/// also carry the session's CSRF token in X-CSRF-Token, else 403.
public struct ConsoleSessionAuthenticator: APIAuthenticator {
    let routes: ConsoleRoutes<APIRequestContext>

    public init(routes: ConsoleRoutes<APIRequestContext>) {
        self.routes = routes
    }

    public func authenticate(_ request: Request, context: APIRequestContext) async throws -> APIPrincipal? {
        switch await routes.sessionAccess(request) {
        case .noSession:
            return nil
        case .granted(let session):
            return APIPrincipal(name: session.operatorName, role: .admin, kind: .session)
        case .refused(let status, let message):
            throw APIError(status, message)
        }
    }
}

/// Writes every state-changing /api/ request to the audit trail (and the log)
/// with its caller's name: the operator's, or the bearer token's. Sits inside
/// the auth middleware, so only authenticated requests reach it.
public struct APIAuditMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    let authenticator: ConsoleAuthenticator

    public init(authenticator: ConsoleAuthenticator) {
        self.authenticator = authenticator
    }

    public func handle(_ request: Request, context: APIRequestContext,
                       next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        guard ConsoleHTTP.changesState(request.method), let principal = context.principal,
              request.uri.path.hasPrefix(APIAuthMiddleware.apiPrefix)
        else { return try await next(request, context) }
        let (action, target) = Self.describe(method: request.method, path: request.uri.path)
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        let actor = principal.name
        // Token and operator names are separate namespaces: say which one this is.
        let via = principal.kind == .token ? " (token)" : ""
        do {
            let response = try await next(request, context)
            await authenticator.audit(actor: actor, action: action, target: target,
                                      result: Self.outcome(response.status) + via, from: address)
            return response
        } catch let error as APIError {
            await authenticator.audit(actor: actor, action: action, target: target,
                                      result: Self.outcome(error.status) + via, from: address)
            throw error
        } catch {
            await authenticator.audit(actor: actor, action: action, target: target, result: "failed" + via, from: address)
            throw error
        }
    }

    /// `POST /api/agents/cam-1/reboot` → ("reboot", "cam-1"); `POST /api/units` → ("import-units", "").
    static func describe(method: HTTPRequest.Method, path: String) -> (action: String, target: String) {
        let parts = path.split(separator: "/").map(String.init)
        if parts.count == 4, parts[1] == "agents" {
            let id = parts[2].removingPercentEncoding ?? parts[2]
            return (parts[3] == "streampoint" ? "switch-streampoint" : parts[3], id)
        }
        // PUT/DELETE /api/agents/cam-1/targets/rtsp/media → ("camera-media-set", "cam-1/rtsp"): never the body.
        if parts.count == 6, parts[1] == "agents", parts[3] == "targets", parts[5] == "media" {
            let id = parts[2].removingPercentEncoding ?? parts[2]
            let target = parts[4].removingPercentEncoding ?? parts[4]
            return (method == .delete ? "camera-media-clear" : "camera-media-set", "\(id)/\(target)")
        }
        if parts == ["api", "units"] { return ("import-units", "") }
        return ("\(method.rawValue) \(path)", "")
    }

    static func outcome(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 200..<300: return "ok (\(status.code))"
        case 409: return "agent offline (409)"
        case 502: return "refused by the agent (502)"
        case 504: return "no answer from the agent (504)"
        default: return "\(status.reasonPhrase.lowercased()) (\(status.code))"
        }
    }
}

/// `GET /api/audit?limit=N`: the audit trail, newest first.
public enum AuditRoute {
    public static let defaultLimit = 200
    public static let maxLimit = 5000

    public static func add(to router: Router<APIRequestContext>, authenticator: ConsoleAuthenticator) {
        router.get("/api/audit") { request, _ -> Response in
            var limit = defaultLimit
            if let text = request.uri.queryParameters.get("limit") {
                guard let wanted = Int(text), (1...maxLimit).contains(wanted) else {
                    throw APIError(.badRequest, "limit must be 1 to \(maxLimit)")
                }
                limit = wanted
            }
            do {
                return APIResponse.json(try await authenticator.auditTrail(limit: limit))
            } catch {
                throw APIError(.serviceUnavailable, "the registry is unavailable; try again")
            }
        }
    }
}
