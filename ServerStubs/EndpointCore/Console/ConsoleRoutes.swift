import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The console's own HTTP surface on the admin listener: its page, script and
/// style sheet under /console/, login, logout and the session query. Everything
/// else it shows comes from the JSON API under /api/, which a session
/// authenticates like a bearer token (`sessionAccess`).
public struct ConsoleRoutes<Context: RequestContext>: Sendable {
    public let authenticator: ConsoleAuthenticator
    /// The peer's address key for rate limits and logs.
    public let remoteHost: @Sendable (Request, Context) -> String

    public init(authenticator: ConsoleAuthenticator, remoteHost: @escaping @Sendable (Request, Context) -> String) {
        self.authenticator = authenticator
        self.remoteHost = remoteHost
    }

    static var maxLoginBody: Int { 4096 }

    public func add(to router: some RouterMethods<Context>) {
        router.get("console") { _, _ in ConsoleHTTP.asset(ConsolePage.html, type: "text/html; charset=utf-8") }
        router.get("console/console.css") { _, _ in ConsoleHTTP.asset(ConsolePage.css, type: "text/css; charset=utf-8") }
        router.get("console/console.js") { _, _ in ConsoleHTTP.asset(ConsoleScript.js, type: "text/javascript; charset=utf-8") }
        router.get("console/session") { request, _ in await session(request) }
        router.post("console/login") { request, context in await login(request, context) }
        router.post("console/logout") { request, context in await logout(request, context) }
    }

    // MARK: API access

    /// What a request under /api/ without a bearer token gets from its cookie.
    public enum SessionAccess: Sendable {
        /// No session cookie: the caller answers 401 (or tries another credential).
        case noSession
        /// A live session; for a state-changing request its CSRF token was checked.
        case granted(ConsoleSessionRecord)
        /// Answer this instead of running the route: 401 (ended session), 403
        /// (no or wrong CSRF token), 503 (registry away).
        case refused(HTTPResponse.Status, String)
    }

    /// Checks the session cookie and, unless the method only reads (GET, HEAD,
    /// OPTIONS), the X-CSRF-Token header against the session's token.
    public func sessionAccess(_ request: Request) async -> SessionAccess {
        let cookie = request.cookies[ConsoleAuthenticator.cookieName]?.value
        let check: ConsoleAuthenticator.SessionCheck
        do {
            check = try await authenticator.check(cookie: cookie)
        } catch {
            return .refused(.serviceUnavailable, "the registry is unavailable; try again")
        }
        switch check {
        case .noCookie:
            return .noSession
        case .invalid:
            return .refused(.unauthorized, "the console session has ended; log in again")
        case .valid(let session):
            if ConsoleHTTP.changesState(request.method),
               !ConsoleAuthenticator.csrfMatches(header: request.headers[ConsoleHTTP.csrfField], session: session) {
                return .refused(.forbidden, "missing or wrong \(ConsoleAuthenticator.csrfHeader) header: state-changing requests of a console session must carry the session's CSRF token")
            }
            return .granted(session)
        }
    }


    // MARK: handlers

    struct LoginRequest: Decodable {
        var name: String
        var password: String
    }

    struct SessionView: Encodable {
        var `operator`: String
        var csrfToken: String
        var expiresAt: Int64
    }

    private func session(_ request: Request) async -> Response {
        switch await sessionAccess(request) {
        case .noSession: return ConsoleHTTP.error(.unauthorized, "not logged in")
        case .refused(let status, let message): return ConsoleHTTP.error(status, message)
        case .granted(let session):
            return ConsoleHTTP.json(SessionView(operator: session.operatorName, csrfToken: session.csrfToken, expiresAt: session.expiresAt))
        }
    }

    private func login(_ request: Request, _ context: Context) async -> Response {
        // Only fetch() with a JSON body can log in: a cross-site form cannot send
        // application/json without the browser asking this server first (CORS).
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            return ConsoleHTTP.error(.unsupportedMediaType, "send the login as application/json: {\"name\":\"…\",\"password\":\"…\"}")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxLoginBody)
        } catch {
            return ConsoleHTTP.error(.contentTooLarge, "a login body may have at most \(Self.maxLoginBody) bytes")
        }
        guard let wanted = try? JSONDecoder().decode(LoginRequest.self, from: Data(buffer: body)) else {
            return ConsoleHTTP.error(.badRequest, "body must be JSON like {\"name\":\"alice\",\"password\":\"…\"}")
        }
        let address = remoteHost(request, context)
        switch await authenticator.login(name: wanted.name, password: wanted.password, address: address) {
        case .success(let sessionID, let session):
            var response = ConsoleHTTP.json(SessionView(operator: session.operatorName, csrfToken: session.csrfToken,
                                                 expiresAt: session.expiresAt))
            response.setCookie(Cookie(name: ConsoleAuthenticator.cookieName, value: sessionID,
                                      maxAge: Int(ConsoleAuthenticator.sessionLifetime), path: "/",
                                      secure: authenticator.secureCookies, httpOnly: true, sameSite: .strict))
            return response
        case .wrongCredentials:
            return ConsoleHTTP.error(.unauthorized, "wrong operator name or password")
        case .rateLimited(let seconds):
            var response = ConsoleHTTP.error(.tooManyRequests, "too many failed logins; retry in \(seconds) s")
            response.headers[.retryAfter] = String(seconds)
            return response
        case .unavailable(let why):
            return ConsoleHTTP.error(.serviceUnavailable, why)
        }
    }

    private func logout(_ request: Request, _ context: Context) async -> Response {
        switch await sessionAccess(request) {
        case .noSession: return ConsoleHTTP.error(.unauthorized, "not logged in")
        case .refused(let status, let message): return ConsoleHTTP.error(status, message)
        case .granted(let session):
            if let cookie = request.cookies[ConsoleAuthenticator.cookieName]?.value {
                await authenticator.logout(cookie: cookie, operatorName: session.operatorName, address: remoteHost(request, context))
            }
            var response = ConsoleHTTP.json(["loggedOut": session.operatorName])
            response.setCookie(Cookie(name: ConsoleAuthenticator.cookieName, value: "", maxAge: 0, path: "/",
                                      secure: authenticator.secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
    }
}

/// The console's HTTP helpers that do not depend on the request context type.
public enum ConsoleHTTP {
    /// Whether a request may change state (and so needs the CSRF token with a session).
    public static func changesState(_ method: HTTPRequest.Method) -> Bool {
        !(method == .get || method == .head || method == .options)
    }

    static let csrfField = HTTPField.Name(ConsoleAuthenticator.csrfHeader)!

    /// Headers every console response carries: nothing cached, nothing framed,
    /// scripts and styles only from this server.
    static func securityHeaders() -> HTTPFields {
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return headers
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = securityHeaders()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = securityHeaders()
        headers[.contentType] = "application/json; charset=utf-8"
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data + Data("\n".utf8))))
    }

    public static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(["error": message], status: status)
    }
}
