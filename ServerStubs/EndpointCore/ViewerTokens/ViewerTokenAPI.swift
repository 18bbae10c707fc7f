import CamNIO
import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /api/agents/<id>/viewer-token` (admin token or console session): signs
/// a viewer token (docs/PROTOCOL.md §16) with the newest key the hub holds.
/// The token is in the answer only: never logged, never stored; the audit
/// trail records who issued one for which camera (APIAuditMiddleware).
public enum ViewerTokenAPI {
    public static let path = "/api/agents/:id/viewer-token"
    public static let defaultTTL = 3600
    public static let minTTL = 60
    /// A day: a token cannot be taken back before it expires (short of rotating
    /// the keys twice), so it is kept short.
    public static let maxTTL = 86_400

    /// What the route needs to know of the agent; nil from the lookup: unknown.
    public struct Agent: Sendable {
        public var revoked: Bool
        /// Its main streampoint's id, if assigned.
        public var streampoint: String?

        public init(revoked: Bool, streampoint: String?) {
            self.revoked = revoked
            self.streampoint = streampoint
        }
    }

    public typealias Lookup = @Sendable (String) async throws -> Agent?

    struct IssueRequest: Decodable {
        var target: String
        var ttl_seconds: Int?
        var label: String?
    }

    /// The answer. URLs are paths: the endpoint does not know a streampoint's
    /// viewer address, so the caller puts them after the streampoint's viewer base
    /// (`http://HOST:PORT` for play and live, `rtsp://HOST:PORT` for rtsp).
    struct Issued: Encodable {
        var token: String
        var agent: String
        var target: String
        var key_id: UInt32
        var label: String?
        var issued_at: String
        var expires_at: String
        var expires_at_unix: UInt64
        var streampoint: String?
        var urls: [String: String]

        private enum CodingKeys: String, CodingKey {
            case token, agent, target, key_id, label, issued_at, expires_at, expires_at_unix, streampoint, urls
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(token, forKey: .token)
            try c.encode(agent, forKey: .agent)
            try c.encode(target, forKey: .target)
            try c.encode(key_id, forKey: .key_id)
            try c.encode(label, forKey: .label)
            try c.encode(issued_at, forKey: .issued_at)
            try c.encode(expires_at, forKey: .expires_at)
            try c.encode(expires_at_unix, forKey: .expires_at_unix)
            try c.encode(streampoint, forKey: .streampoint)
            try c.encode(urls, forKey: .urls)
        }
    }

    public static func add(to router: Router<APIRequestContext>, hub: StreampointHub, lookup: @escaping Lookup,
                           now: @escaping @Sendable () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970)) }) {
        router.post(RouterPath(stringLiteral: path)) { request, context -> Response in
            let agentID = try context.parameters.require("id")
            var request = request
            let body = try await request.collectBody(upTo: APIServer.maxBody)
            let wanted = try parse(Data(body.readableBytesView))
            guard let agent = try await lookupOrUnavailable(lookup, agentID) else {
                throw APIError(.notFound, "unknown agent \(LogText.peer(agentID))")
            }
            guard !agent.revoked else { throw APIError(.conflict, "agent \(agentID) is revoked: no viewer tokens for it") }
            guard let key = hub.viewerKeys?.first else {
                throw APIError(.serviceUnavailable, "no viewer-token key yet (the registry has not been read); retry later")
            }
            let issuedAt = now()
            let token = ViewerToken(keyID: key.id, issuedAt: issuedAt, expiresAt: issuedAt + UInt64(wanted.ttl),
                                    agentID: agentID, target: wanted.target, label: wanted.label ?? "")
            var response = APIResponse.json(issued(token, text: token.signed(secret: key.secret), streampoint: agent.streampoint))
            // A credential: no cache may keep it.
            response.headers[.cacheControl] = "no-store"
            return response
        }
        for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
            router.on(RouterPath(stringLiteral: path), method: method) { request, _ -> Response in
                APIResponse.error(.methodNotAllowed, "method \(request.method.rawValue) not allowed on \(LogText.peer(request.uri.path)); use POST")
            }
        }
    }

    struct Wanted {
        var target: String
        var ttl: Int
        var label: String?
    }

    /// The body's checks, each a 400 that says what is wrong.
    static func parse(_ body: Data) throws -> Wanted {
        guard let request = try? JSONDecoder().decode(IssueRequest.self, from: body) else {
            throw APIError(.badRequest, #"body must be JSON like {"target":"rtsp","ttl_seconds":3600} (ttl_seconds and label optional)"#)
        }
        guard Identifier.isValid(request.target) else {
            throw APIError(.badRequest, "target must be a target name: \(Identifier.rule)")
        }
        let ttl = request.ttl_seconds ?? defaultTTL
        guard (minTTL...maxTTL).contains(ttl) else {
            throw APIError(.badRequest, "ttl_seconds must be \(minTTL) to \(maxTTL) (default \(defaultTTL))")
        }
        if let label = request.label, !ViewerToken.isValidLabel(label) {
            throw APIError(.badRequest, "label must be at most \(ViewerToken.maxLabelBytes) bytes without control characters")
        }
        let label = request.label.flatMap { $0.isEmpty ? nil : $0 }
        return Wanted(target: request.target, ttl: ttl, label: label)
    }

    private static func lookupOrUnavailable(_ lookup: Lookup, _ agentID: String) async throws -> Agent? {
        do {
            return try await lookup(agentID)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.serviceUnavailable, "the registry is unavailable; try again")
        }
    }

    static func issued(_ token: ViewerToken, text: String, streampoint: String?) -> Issued {
        // Identifiers and base64url need no percent-encoding in a path or query.
        let query = "?token=" + text
        let tail = "/\(token.agentID)/\(token.target)" + query
        return Issued(
            token: text, agent: token.agentID, target: token.target, key_id: token.keyID,
            label: token.label.isEmpty ? nil : token.label,
            issued_at: isoTimestamp(Date(timeIntervalSince1970: TimeInterval(token.issuedAt))),
            expires_at: isoTimestamp(Date(timeIntervalSince1970: TimeInterval(token.expiresAt))),
            expires_at_unix: token.expiresAt, streampoint: streampoint,
            urls: ["play": "/play" + tail, "live": "/live" + tail, "rtsp": tail])
    }
}
