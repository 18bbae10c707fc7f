import CamNIO
import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET`, `PUT` and `DELETE /api/agents/<id>/targets/<target>/media` (admin
/// token or console session): how streampoints pull one camera target, its
/// RTSP path and credentials. No answer ever holds the password, only
/// `hasPassword`; the audit trail records who changed which target
/// (APIAuditMiddleware), never the body.
public enum CameraMediaAPI {
    public static let path = "/api/agents/:id/targets/:target/media"

    public typealias AgentExists = @Sendable (String) async throws -> Bool

    struct SetRequest: Decodable {
        var path: String?
        var username: String?
        var password: String?
    }

    /// What GET, PUT and DELETE answer: never the password.
    struct View: Encodable, Equatable {
        var agent: String
        var target: String
        var path: String?
        var username: String?
        var hasPassword: Bool
        var updatedAt: String?

        private enum CodingKeys: String, CodingKey { case agent, target, path, username, hasPassword, updatedAt }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(agent, forKey: .agent)
            try c.encode(target, forKey: .target)
            try c.encode(path, forKey: .path)
            try c.encode(username, forKey: .username)
            try c.encode(hasPassword, forKey: .hasPassword)
            try c.encode(updatedAt, forKey: .updatedAt)
        }

        init(agent: String, target: String, record: CameraMediaRecord?) {
            self.agent = agent
            self.target = target
            path = record?.settings.path
            username = record?.settings.credentials?.username
            hasPassword = record?.settings.credentials != nil
            updatedAt = record?.updatedAt
        }
    }

    /// `changed` runs after every stored change: the endpoint re-reads the
    /// registry and sends the new set down its streampoint channels at once.
    public static func add(to router: Router<APIRequestContext>, worker: RegistryWorker, loop: EventLoop,
                           agentExists: @escaping AgentExists, changed: @escaping @Sendable () async -> Void) {
        let route = RouterPath(stringLiteral: path)
        router.get(route) { _, context -> Response in
            let (agentID, target) = try names(context)
            try await requireAgent(agentID, agentExists)
            let record = try await run(worker, loop) { store in try store.cameraMediaSettings(agentID: agentID, target: target) }
            return APIResponse.json(View(agent: agentID, target: target, record: record))
        }
        router.put(route) { request, context -> Response in
            let (agentID, target) = try names(context)
            var request = request
            let body = try await request.collectBody(upTo: APIServer.maxBody)
            let wanted = try parse(Data(body.readableBytesView))
            let at = isoTimestamp()
            let record = try await run(worker, loop) { store in
                try store.setCameraMedia(agentID: agentID, target: target, path: wanted.path, username: wanted.username,
                                         password: wanted.password, at: at)
            }
            guard let record else { throw unknownAgent(agentID) }
            await changed()
            return APIResponse.json(View(agent: agentID, target: target, record: record))
        }
        router.delete(route) { _, context -> Response in
            let (agentID, target) = try names(context)
            try await requireAgent(agentID, agentExists)
            if try await run(worker, loop, { store in try store.clearCameraMedia(agentID: agentID, target: target) }) {
                await changed()
            }
            return APIResponse.json(View(agent: agentID, target: target, record: nil))
        }
        for method in [HTTPRequest.Method.post, .patch] {
            router.on(route, method: method) { request, _ -> Response in
                APIResponse.error(.methodNotAllowed, "method \(request.method.rawValue) not allowed on \(LogText.peer(request.uri.path)); use GET, PUT or DELETE")
            }
        }
    }

    struct Wanted: Sendable {
        var path: String?
        var username: String?
        var password: CameraPasswordChange
    }

    static let bodyExample = #"{"path":"/Streaming/Channels/101","username":"admin","password":"…"}"#

    /// The body's checks, each a 400 that says what is wrong. Never echoes a password.
    static func parse(_ body: Data) throws -> Wanted {
        guard let request = try? JSONDecoder().decode(SetRequest.self, from: body) else {
            throw APIError(.badRequest, "body must be JSON like \(bodyExample) (each field optional; password omitted keeps the stored one)")
        }
        if request.username == nil, request.password != nil {
            throw APIError(.badRequest, "a password needs a username")
        }
        guard request.path != nil || request.username != nil else {
            throw APIError(.badRequest, "nothing to set: give path and/or username (DELETE clears a target's settings)")
        }
        if let path = request.path, let problem = CameraMediaRules.pathProblem(path) { throw APIError(.badRequest, "path: \(problem)") }
        if let username = request.username, let problem = CameraMediaRules.usernameProblem(username) {
            throw APIError(.badRequest, "username: \(problem)")
        }
        if let password = request.password, let problem = CameraMediaRules.passwordProblem(password) {
            throw APIError(.badRequest, "password: \(problem)")
        }
        return Wanted(path: request.path, username: request.username, password: request.password.map { .set($0) } ?? .keep)
    }

    private static func names(_ context: APIRequestContext) throws -> (String, String) {
        let agentID = try context.parameters.require("id")
        let target = try context.parameters.require("target")
        guard Identifier.isValid(agentID) else { throw unknownAgent(agentID) }
        guard Identifier.isValid(target) else { throw APIError(.badRequest, "target must be a target name: \(Identifier.rule)") }
        return (agentID, target)
    }

    private static func unknownAgent(_ agentID: String) -> APIError {
        APIError(.notFound, "unknown agent \(LogText.peer(agentID))")
    }

    private static func requireAgent(_ agentID: String, _ exists: AgentExists) async throws {
        let known: Bool
        do {
            known = try await exists(agentID)
        } catch {
            throw APIError(.serviceUnavailable, "the registry is unavailable; try again")
        }
        guard known else { throw unknownAgent(agentID) }
    }

    private static func run<T: Sendable>(_ worker: RegistryWorker, _ loop: EventLoop,
                                         _ body: @escaping @Sendable (CameraMediaStore) throws -> T) async throws -> T {
        do {
            return try await worker.run(on: loop) { store in
                guard let media = store as? CameraMediaStore else { throw ValidationFailure("this registry keeps no camera media settings") }
                return try body(media)
            }.get()
        } catch let failure as ValidationFailure {
            throw APIError(.badRequest, failure.description)
        } catch {
            throw APIError(.serviceUnavailable, "the registry is unavailable; try again")
        }
    }
}
