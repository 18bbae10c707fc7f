@testable import EndpointCore
import CamNIO
import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Issuing viewer tokens: `POST /api/agents/<id>/viewer-token` on Hummingbird's
/// router (no sockets), behind the same auth and error middleware as the
/// endpoint's; and the signing keys in the registry (migration 4).
@Suite struct ViewerTokenAPITests {
    /// `Bearer admin` is an admin, `Bearer sp` a streampoint; anything else is refused.
    struct FixedTokens: APIAuthenticator {
        func authenticate(_ request: Request, context: APIRequestContext) async throws -> APIPrincipal? {
            switch request.headers[.authorization] {
            case nil: return nil
            case "Bearer admin": return APIPrincipal(name: "ops", role: .admin, kind: .token)
            case "Bearer sp": return APIPrincipal(name: "sp1", role: .streampoint, kind: .token)
            default: throw APIError(.unauthorized, "unknown token")
            }
        }
    }

    static let key = ViewerTokenKey(id: 3, secret: [UInt8](repeating: 0x5a, count: 32))
    static let now: UInt64 = 1_800_000_000

    static func application(keys: [ViewerTokenKey]? = [key]) -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: APIAuthMiddleware(authenticators: [FixedTokens()]))
        let hub = StreampointHub()
        if let keys { hub.publishViewerKeys(keys) }
        ViewerTokenAPI.add(to: router, hub: hub, lookup: { id in
            switch id {
            case "cam-1": return .init(revoked: false, streampoint: "sp1")
            case "cam-2": return .init(revoked: false, streampoint: nil)
            case "cam-gone": return .init(revoked: true, streampoint: "sp1")
            default: return nil
            }
        }, now: { now })
        return Application(router: router)
    }

    static func post(_ client: some TestClientProtocol, _ path: String = "/api/agents/cam-1/viewer-token",
                     auth: String? = "Bearer admin", body: String) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let auth { headers[.authorization] = auth }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
    }

    @Test func anAdminGetsATokenTheStreampointAccepts() async throws {
        try await Self.application().test(.router) { client in
            let response = try await Self.post(client, body: #"{"target":"rtsp","ttl_seconds":600,"label":"desk"}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let answer = Self.json(response)
            let token = try #require(answer["token"] as? String)
            #expect(answer["agent"] as? String == "cam-1" && answer["target"] as? String == "rtsp")
            #expect(answer["key_id"] as? Int == 3 && answer["label"] as? String == "desk" && answer["streampoint"] as? String == "sp1")
            #expect(answer["expires_at_unix"] as? Int == Int(Self.now) + 600)
            #expect(answer["expires_at"] as? String == isoTimestamp(Date(timeIntervalSince1970: TimeInterval(Self.now + 600))))
            let urls = try #require(answer["urls"] as? [String: String])
            #expect(urls == ["play": "/play/cam-1/rtsp?token=\(token)", "live": "/live/cam-1/rtsp?token=\(token)",
                             "rtsp": "/cam-1/rtsp?token=\(token)"])
            let checked = ViewerToken.verify(token, agentID: "cam-1", target: "rtsp", now: Self.now + 599) { $0 == 3 ? Self.key.secret : nil }
            #expect(try checked.get().label == "desk")
            #expect(ViewerToken.verify(token, agentID: "cam-1", target: "rtsp", now: Self.now + 600) { _ in Self.key.secret } == .failure(.expired))

            // Defaults: one hour, no label, no streampoint assigned.
            let plain = Self.json(try await Self.post(client, "/api/agents/cam-2/viewer-token", body: #"{"target":"http"}"#))
            #expect(plain["expires_at_unix"] as? Int == Int(Self.now) + ViewerTokenAPI.defaultTTL)
            #expect(plain["label"] is NSNull && plain["streampoint"] is NSNull)
        }
    }

    @Test func withoutAnAdminCredentialThereIsNoToken() async throws {
        try await Self.application().test(.router) { client in
            let none = try await Self.post(client, auth: nil, body: #"{"target":"rtsp"}"#)
            #expect(none.status == .unauthorized && none.headers[.wwwAuthenticate] != nil)
            #expect(Self.json(none)["token"] == nil && Self.json(none)["error"] is String)
            #expect(try await Self.post(client, auth: "Bearer wrong", body: #"{"target":"rtsp"}"#).status == .unauthorized)
            #expect(try await Self.post(client, auth: "Bearer sp", body: #"{"target":"rtsp"}"#).status == .forbidden)
        }
    }

    @Test func unknownAndRevokedAgentsAndBadBodiesAreRefused() async throws {
        try await Self.application().test(.router) { client in
            let unknown = try await Self.post(client, "/api/agents/cam-9/viewer-token", body: #"{"target":"rtsp"}"#)
            #expect(unknown.status == .notFound && (Self.json(unknown)["error"] as? String)?.contains("cam-9") == true)
            #expect(try await Self.post(client, "/api/agents/cam-gone/viewer-token", body: #"{"target":"rtsp"}"#).status == .conflict)
            for body in ["", "{", "[]", #"{"ttl_seconds":60}"#, #"{"target":5}"#, #"{"target":"a/b"}"#, #"{"target":""}"#,
                         #"{"target":"rtsp","ttl_seconds":59}"#, #"{"target":"rtsp","ttl_seconds":86401}"#,
                         #"{"target":"rtsp","ttl_seconds":-1}"#, #"{"target":"rtsp","ttl_seconds":1.5}"#,
                         #"{"target":"rtsp","ttl_seconds":99999999999999999999}"#,
                         #"{"target":"rtsp","label":"\u0007"}"#, #"{"target":"rtsp","label":"\#(String(repeating: "x", count: 65))"}"#] {
                let response = try await Self.post(client, body: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(Self.json(response)["error"] is String, "\(body)")
            }
            for ttl in [ViewerTokenAPI.minTTL, ViewerTokenAPI.maxTTL] {
                let response = try await Self.post(client, body: #"{"target":"rtsp","ttl_seconds":\#(ttl)}"#)
                #expect(response.status == .ok && Self.json(response)["expires_at_unix"] as? Int == Int(Self.now) + ttl)
            }
            let get = try await client.execute(uri: "/api/agents/cam-1/viewer-token", method: .get,
                                               headers: [.authorization: "Bearer admin"])
            #expect(get.status == .methodNotAllowed)
        }
    }

    @Test func beforeTheKeysAreReadTheAnswerIsRetryLater() async throws {
        try await Self.application(keys: nil).test(.router) { client in
            let response = try await Self.post(client, body: #"{"target":"rtsp"}"#)
            #expect(response.status == .serviceUnavailable)
        }
    }

    @Test func theRegistryKeepsTheSigningKeyAndThePreviousOne() throws {
        let scratch = try RegistryStoreTests.Scratch()
        let store = try scratch.open()
        defer { store.close() }
        #expect(try store.viewerTokenKeys().isEmpty)
        let generation = try store.generation()
        let first = try store.ensureViewerTokenKey(secret: [UInt8](repeating: 1, count: 32), at: "t1")
        #expect(first.map(\.key.id) == [1] && first[0].key.secret == [UInt8](repeating: 1, count: 32))
        #expect(try store.generation() > generation, "other endpoints reload and pick the key up")
        // A second endpoint on the same registry keeps the first key.
        #expect(try store.ensureViewerTokenKey(secret: [UInt8](repeating: 2, count: 32), at: "t2") == first)
        let rotated = try store.rotateViewerTokenKey(secret: [UInt8](repeating: 3, count: 32), at: "t3", keep: ViewerKeys.kept)
        #expect(rotated.map(\.key.id) == [2, 1])
        let again = try store.rotateViewerTokenKey(secret: [UInt8](repeating: 4, count: 32), at: "t4", keep: ViewerKeys.kept)
        #expect(again.map(\.key.id) == [3, 2] && again[0].createdAt == "t4")
        #expect(try store.viewerTokenKeys() == again)
        // Another process (the CLI) sees the same.
        let other = try scratch.open()
        defer { other.close() }
        #expect(try other.viewerTokenKeys() == again)
        #expect(ViewerKeys.newSecret() != ViewerKeys.newSecret() && ViewerKeys.newSecret().count == 32)
    }

    @Test func theHubSignalsKeyChangesOnlyWhenTheyChange() async {
        let hub = StreampointHub()
        hub.publishViewerKeys([Self.key])
        let (key, updates) = hub.connect(name: "sp-token", id: "sp1", remoteAddress: "127.0.0.1:1")
        hub.publishViewerKeys([Self.key])
        #expect(hub.currentFrames.viewerKeys == [Self.key])
        hub.end(key: key)
        var signals = 0
        for await _ in updates { signals += 1 }
        #expect(signals == 1, "the connect signal only: the same keys again change nothing")
    }
}
