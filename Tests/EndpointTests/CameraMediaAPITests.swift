@testable import EndpointCore
import CamNIO
import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import Testing

/// Camera media settings (migration 5) on a real SQLite registry, and
/// `/api/agents/<id>/targets/<target>/media` on Hummingbird's router (no
/// sockets) behind the endpoint's auth and error middleware.
@Suite struct CameraMediaAPITests {
    final class Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("camera-media-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        var path: String { directory.appendingPathComponent("registry.sqlite").path }
        func open() throws -> SQLRegistryStore { try SQLRegistryStore.open(.sqlite(path: path)) }
        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    static let verifier = String(repeating: "ab", count: 32)

    @Test func settingsAreStoredPerTargetAndEveryChangeMovesTheGeneration() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        defer { store.close() }
        _ = try store.enroll(agentID: "cam-1", verifierHex: Self.verifier, streampoint: nil)
        let start = try store.generation()

        #expect(try store.setCameraMedia(agentID: "cam-x", target: "rtsp", path: "/a", username: nil, password: .keep, at: "t0") == nil,
                "an unknown agent")
        let set = try #require(try store.setCameraMedia(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/101",
                                                        username: "admin", password: .set("s3cret"), at: "t1"))
        #expect(set.settings == CameraMediaTarget(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/101",
                                                  credentials: CameraCredentials(username: "admin", password: "s3cret")))
        #expect(try store.generation() == start + 1)
        _ = try store.setCameraMedia(agentID: "cam-1", target: "rtsp-sub", path: "/Streaming/Channels/102", username: nil, password: .keep, at: "t2")

        // A new path and user, the password kept.
        let kept = try #require(try store.setCameraMedia(agentID: "cam-1", target: "rtsp", path: nil, username: "operator",
                                                         password: .keep, at: "t3"))
        #expect(kept.settings.credentials == CameraCredentials(username: "operator", password: "s3cret") && kept.settings.path == nil)
        // Only a path (main to substream): the credentials stay.
        let switched = try #require(try store.setCameraMedia(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/102",
                                                             username: nil, password: .keep, at: "t3"))
        #expect(switched.settings.credentials == CameraCredentials(username: "operator", password: "s3cret"))
        #expect(throws: ValidationFailure.self) {
            try store.setCameraMedia(agentID: "cam-1", target: "rtsp-sub", path: nil, username: "admin", password: .keep, at: "t4")
        }
        #expect(throws: ValidationFailure.self) {
            try store.setCameraMedia(agentID: "cam-1", target: "rtsp", path: "relative", username: nil, password: .keep, at: "t4")
        }
        #expect(try store.generation() == start + 4, "a refused change moves nothing")

        // Another store on the file (another endpoint, the CLI) reads the same.
        let other = try scratch.open()
        defer { other.close() }
        #expect(try other.cameraMediaSettings().map { "\($0.settings.agentID)/\($0.settings.target)" } == ["cam-1/rtsp", "cam-1/rtsp-sub"])
        #expect(try other.cameraMediaSettings(agentID: "cam-1", target: "rtsp")?.updatedAt == "t3")

        #expect(try store.clearCameraMedia(agentID: "cam-1", target: "rtsp"))
        #expect(try !store.clearCameraMedia(agentID: "cam-1", target: "rtsp"))
        #expect(try store.generation() == start + 5)
        #expect(try other.cameraMediaSettings(agentID: "cam-1", target: "rtsp") == nil)
    }

    @Test func aSchemaFourRegistryGainsTheCameraMediaTable() throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        _ = try store.enroll(agentID: "cam-1", verifierHex: Self.verifier, streampoint: nil)
        // Back to how a release with migrations 1 to 4 left it.
        try store.database.transaction { session in
            try session.execute("DROP TABLE camera_media", [])
            try session.execute("UPDATE registry_meta SET value = 4 WHERE name = 'schema'", [])
        }
        store.close()
        let reopened = try scratch.open()
        defer { reopened.close() }
        #expect(try reopened.cameraMediaSettings().isEmpty)
        #expect(try reopened.setCameraMedia(agentID: "cam-1", target: "rtsp", path: "/live", username: nil, password: .keep, at: "t") != nil)
    }

    // MARK: the API

    struct AdminOnly: APIAuthenticator {
        func authenticate(_ request: Request, context: APIRequestContext) async throws -> APIPrincipal? {
            switch request.headers[.authorization] {
            case nil: return nil
            case "Bearer admin": return APIPrincipal(name: "ops", role: .admin, kind: .token)
            default: throw APIError(.unauthorized, "unknown token")
            }
        }
    }

    final class Changes: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func bump() { lock.lock(); count += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    }

    static func withAPI(_ body: (any TestClientProtocol, SQLRegistryStore, Changes) async throws -> Void) async throws {
        let scratch = try Scratch()
        let store = try scratch.open()
        _ = try store.enroll(agentID: "cam-1", verifierHex: verifier, streampoint: nil)
        let worker = RegistryWorker(store: store)
        defer { worker.shutdown() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let changes = Changes()
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: APIAuthMiddleware(authenticators: [AdminOnly()]))
        CameraMediaAPI.add(to: router, worker: worker, loop: loop, agentExists: { $0 == "cam-1" }, changed: { changes.bump() })
        try await Application(router: router).test(.router) { client in try await body(client, store, changes) }
    }

    static func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String = "/api/agents/cam-1/targets/rtsp/media",
                     auth: String? = "Bearer admin", body: String? = nil) async throws -> (HTTPResponse.Status, [String: Any], String) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let auth { headers[.authorization] = auth }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
        return (response.status, object, text)
    }

    @Test func putGetAndDeleteNeverAnswerWithThePassword() async throws {
        try await Self.withAPI { client, store, changes in
            let (empty, emptyView, _) = try await Self.call(client, .get)
            #expect(empty == .ok && emptyView["hasPassword"] as? Bool == false && emptyView["path"] is NSNull)

            let (put, view, text) = try await Self.call(client, .put, body: #"{"path":"/Streaming/Channels/101","username":"admin","password":"hunter2"}"#)
            #expect(put == .ok, "\(text)")
            #expect(view["path"] as? String == "/Streaming/Channels/101" && view["username"] as? String == "admin")
            #expect(view["hasPassword"] as? Bool == true && view["agent"] as? String == "cam-1" && view["target"] as? String == "rtsp")
            #expect(!text.contains("hunter2"))
            #expect(changes.value == 1)
            #expect(try store.cameraMediaSettings(agentID: "cam-1", target: "rtsp")?.settings.credentials?.password == "hunter2")

            let (get, _, getText) = try await Self.call(client, .get)
            #expect(get == .ok && getText.contains(#""hasPassword" : true"#) && !getText.contains("hunter2"), "\(getText)")

            // Only the path changes; the stored password stays.
            let (again, _, _) = try await Self.call(client, .put, body: #"{"path":"/Streaming/Channels/102","username":"admin"}"#)
            #expect(again == .ok)
            #expect(try store.cameraMediaSettings(agentID: "cam-1", target: "rtsp")?.settings
                    == CameraMediaTarget(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/102",
                                         credentials: CameraCredentials(username: "admin", password: "hunter2")))

            let (deleted, deletedView, _) = try await Self.call(client, .delete)
            #expect(deleted == .ok && deletedView["hasPassword"] as? Bool == false)
            #expect(try store.cameraMediaSettings(agentID: "cam-1", target: "rtsp") == nil)
            #expect(changes.value == 3)
        }
    }

    @Test func badInputGetsAClear4xxAndChangesNothing() async throws {
        try await Self.withAPI { client, store, changes in
            let bad: [(String, String)] = [
                ("not json", "body must be JSON"),
                (#"{"path":7}"#, "body must be JSON"),
                (#"{}"#, "nothing to set"),
                (#"{"path":"Streaming/101"}"#, "path:"),
                (#"{"path":"/a b"}"#, "path:"),
                (#"{"path":"/\#(String(repeating: "x", count: 255))"}"#, "path:"),
                (#"{"username":"a:b","password":"x"}"#, "username:"),
                (#"{"username":"","password":"x"}"#, "username:"),
                (#"{"password":"x"}"#, "needs a username"),
                (#"{"username":"admin","password":"line\nbreak"}"#, "password:"),
                (#"{"username":"admin"}"#, "no password is stored"),
            ]
            for (body, message) in bad {
                let (status, answer, text) = try await Self.call(client, .put, body: body)
                #expect(status == .badRequest, "\(body): \(text)")
                #expect((answer["error"] as? String ?? "").contains(message), "\(body): \(text)")
                #expect(!text.contains("line\\nbreak"), "a password is never echoed")
            }
            #expect(try await Self.call(client, .put, "/api/agents/cam-9/targets/rtsp/media", body: #"{"path":"/x"}"#).0 == .notFound)
            #expect(try await Self.call(client, .get, "/api/agents/cam-9/targets/rtsp/media").0 == .notFound)
            #expect(try await Self.call(client, .delete, "/api/agents/cam-9/targets/rtsp/media").0 == .notFound)
            #expect(try await Self.call(client, .get, "/api/agents/cam-1/targets/bad%20name/media").0 == .badRequest)
            #expect(try await Self.call(client, .post, body: #"{"path":"/x"}"#).0 == .methodNotAllowed)
            #expect(try await Self.call(client, .get, auth: nil).0 == .unauthorized)
            #expect(try store.cameraMediaSettings().isEmpty && changes.value == 0)
        }
    }

    @Test func theAuditTrailNamesTheTargetButNotTheBody() {
        #expect(APIAuditMiddleware.describe(method: .put, path: "/api/agents/cam-1/targets/rtsp/media") == ("camera-media-set", "cam-1/rtsp"))
        #expect(APIAuditMiddleware.describe(method: .delete, path: "/api/agents/cam-1/targets/rtsp/media") == ("camera-media-clear", "cam-1/rtsp"))
    }
}
