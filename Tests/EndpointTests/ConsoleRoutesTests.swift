@testable import EndpointCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// The console's HTTP layer on Hummingbird's router (no sockets): the page and
/// its headers, login and its cookie, the session as an API credential with
/// CSRF, logout, and the login rate limit.
@Suite struct ConsoleRoutesTests {
    final class Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-routes-\(UUID().uuidString)")
        let store: SQLRegistryStore
        init() throws {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = try SQLRegistryStore.open(.sqlite(path: directory.appendingPathComponent("registry.sqlite").path))
            _ = try store.addOperator(OperatorRecord(name: "alice", password: try PasswordHash.make(password: "alice's long password"),
                                                     createdAt: "2026-12-03T12:00:00Z"))
        }
        deinit {
            store.close()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// The console's routes plus one guarded API route, as the endpoint wires them.
    static func application(_ store: SQLRegistryStore, secure: Bool = false) -> some ApplicationProtocol {
        let authenticator = ConsoleAuthenticator(store: store, secureCookies: secure, logger: Logger(label: "test"))
        let routes = ConsoleRoutes<BasicRequestContext>(authenticator: authenticator, remoteHost: { _, _ in "192.0.2.1" })
        let router = Router(context: BasicRequestContext.self)
        routes.add(to: router)
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/api/ping", method: method) { request, _ -> Response in
                switch await routes.sessionAccess(request) {
                case .noSession: return ConsoleHTTP.error(.unauthorized, "authentication required")
                case .refused(let status, let message): return ConsoleHTTP.error(status, message)
                case .granted(let session): return ConsoleHTTP.json(["operator": session.operatorName])
                }
            }
        }
        return Application(router: router)
    }

    static func login(_ client: some TestClientProtocol, password: String = "alice's long password") async throws -> TestResponse {
        try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(string: #"{"name":"alice","password":"\#(password)"}"#))
    }

    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
    }

    @Test func thePageIsServedFromTheBinaryWithStrictHeaders() async throws {
        let scratch = try Scratch()
        try await Self.application(scratch.store).test(.router) { client in
            for (path, type) in [("/console/", "text/html"), ("/console", "text/html"), ("/console/console.js", "text/javascript"),
                                 ("/console/console.css", "text/css")] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                #expect(response.headers[.cacheControl] == "no-store")
            }
            let page = String(buffer: try await client.execute(uri: "/console/", method: .get).body)
            // Nothing from the internet, no inline script.
            #expect(!page.contains("http://") && !page.contains("https://") && !page.contains("<script>"))
        }
    }

    @Test func loginSetsAStrictCookieAndTheSessionNeedsCSRFToChangeState() async throws {
        let scratch = try Scratch()
        try await Self.application(scratch.store).test(.router) { client in
            #expect(try await client.execute(uri: "/api/ping", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/console/session", method: .get).status == .unauthorized)
            // A form post (not JSON) cannot log in: no cross-site login.
            #expect(try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                             body: ByteBuffer(string: "name=alice&password=x")).status == .unsupportedMediaType)
            #expect(try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/json"],
                                             body: ByteBuffer(string: "nonsense")).status == .badRequest)
            let wrong = try await Self.login(client, password: "not the password")
            #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil)

            let login = try await Self.login(client)
            #expect(login.status == .ok)
            let setCookie = try #require(login.headers[.setCookie])
            #expect(setCookie.hasPrefix("camagent_session=") && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict")
                    && setCookie.contains("Path=/") && !setCookie.contains("Secure"), "\(setCookie)")
            let sessionID = String(setCookie.dropFirst("camagent_session=".count).prefix { $0 != ";" })
            let csrf = try #require(Self.json(login)["csrfToken"] as? String)
            let cookie: HTTPFields = [.cookie: "camagent_session=\(sessionID)"]

            #expect(try await client.execute(uri: "/api/ping", method: .get, headers: cookie).status == .ok)
            #expect(try await client.execute(uri: "/console/session", method: .get, headers: cookie).status == .ok)
            let noToken = try await client.execute(uri: "/api/ping", method: .post, headers: cookie)
            #expect(noToken.status == .forbidden)
            var wrongToken = cookie
            wrongToken[HTTPField.Name("X-CSRF-Token")!] = "x" + csrf.dropFirst()
            #expect(try await client.execute(uri: "/api/ping", method: .post, headers: wrongToken).status == .forbidden)
            var withToken = cookie
            withToken[HTTPField.Name("X-CSRF-Token")!] = csrf
            let post = try await client.execute(uri: "/api/ping", method: .post, headers: withToken)
            #expect(post.status == .ok && Self.json(post)["operator"] as? String == "alice")
            // An unknown cookie is refused outright, not treated as anonymous.
            #expect(try await client.execute(uri: "/api/ping", method: .get,
                                             headers: [.cookie: "camagent_session=\(String(repeating: "A", count: 43))"]).status == .unauthorized)

            // Logout needs the token too, then ends the session everywhere.
            #expect(try await client.execute(uri: "/console/logout", method: .post, headers: cookie).status == .forbidden)
            let logout = try await client.execute(uri: "/console/logout", method: .post, headers: withToken)
            #expect(logout.status == .ok && logout.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await client.execute(uri: "/api/ping", method: .get, headers: cookie).status == .unauthorized)
        }
        let trail = try scratch.store.auditTrail(limit: 10)
        #expect(trail.map(\.action).sorted() == ["login", "login", "logout"])
    }

    @Test func underTLSTheCookieIsSecure() async throws {
        let scratch = try Scratch()
        try await Self.application(scratch.store, secure: true).test(.router) { client in
            let login = try await Self.login(client)
            #expect(login.headers[.setCookie]?.contains("Secure") == true)
        }
    }

    @Test func repeatedFailedLoginsAreRefusedWith429() async throws {
        let scratch = try Scratch()
        try await Self.application(scratch.store).test(.router) { client in
            for _ in 0..<LoginThrottle.perName.maxFailures {
                #expect(try await Self.login(client, password: "a wrong password").status == .unauthorized)
            }
            let blocked = try await Self.login(client)
            #expect(blocked.status == .tooManyRequests)
            #expect(Int(blocked.headers[.retryAfter] ?? "") ?? 0 > 0)
        }
    }
}
