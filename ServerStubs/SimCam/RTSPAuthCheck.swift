import ArgumentParser
import CamMedia
import Crypto
import Foundation

/// `--rtsp-user`: simcam asks for credentials as a real camera does, so the
/// streampoint's Basic and Digest answers meet a peer that checks them.
struct RTSPAuthPolicy: Sendable {
    enum Scheme: String, Sendable, ExpressibleByArgument, CaseIterable {
        case digest, basic
    }

    let username: String
    let password: String
    let scheme: Scheme
    static let realm = "camagent-simcam"

    /// Reads the password file (one trailing newline dropped).
    static func load(username: String?, passwordFile: String?, scheme: Scheme) throws -> RTSPAuthPolicy? {
        guard let username else {
            guard passwordFile == nil else { throw ValidationError("--rtsp-password-file needs --rtsp-user") }
            return nil
        }
        guard let passwordFile else { throw ValidationError("--rtsp-user needs --rtsp-password-file") }
        guard !username.isEmpty, !username.contains(":") else { throw ValidationError("--rtsp-user must be non-empty, without ':'") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: passwordFile)) } catch {
            throw StartupError("cannot read --rtsp-password-file \(passwordFile): \(error.localizedDescription)")
        }
        var password = String(decoding: data, as: UTF8.self)
        if password.hasSuffix("\r\n") { password.removeLast(2) } else if password.hasSuffix("\n") { password.removeLast() }
        return RTSPAuthPolicy(username: username, password: password, scheme: scheme)
    }
}

/// One connection's check: every request but OPTIONS (which cameras commonly
/// answer to anyone) needs credentials; without or with wrong ones it gets
/// 401 and a challenge. Digest nonces are per connection.
struct RTSPAuthCheck {
    let policy: RTSPAuthPolicy
    let nonce: String

    init(policy: RTSPAuthPolicy) {
        self.policy = policy
        var generator = SystemRandomNumberGenerator()
        nonce = HexText.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }, uppercase: false)
    }

    enum Verdict: Equatable {
        case allowed
        /// Send this 401; `why` is for the log (never a password).
        case refused(RTSPResponse.Challenge, why: String)
    }

    func check(_ request: RTSPRequest) -> Verdict {
        if request.method == "OPTIONS" { return .allowed }
        guard let header = request.headers["Authorization"] else { return .refused(challenge, why: "no credentials") }
        switch (policy.scheme, RTSPAuthorizationOffer(header)) {
        case (.basic, .basic(let username, let password)?):
            return username == policy.username && password == policy.password
                ? .allowed : .refused(challenge, why: "wrong Basic credentials for user \(printable(username))")
        case (.digest, .digest(let parameters)?):
            return digestMatches(parameters, method: request.method, requestURI: request.uri)
                ? .allowed : .refused(challenge, why: "wrong Digest answer for user \(printable(parameters["username"] ?? ""))")
        default:
            return .refused(challenge, why: "credentials of another scheme than \(policy.scheme.rawValue)")
        }
    }

    var challenge: RTSPResponse.Challenge {
        switch policy.scheme {
        case .basic: return .init(value: "Basic realm=\"\(RTSPAuthPolicy.realm)\"")
        case .digest: return .init(value: "Digest realm=\"\(RTSPAuthPolicy.realm)\", nonce=\"\(nonce)\", qop=\"auth\"")
        }
    }

    /// Recomputes the answer with CamMedia's own Digest (the client side's
    /// code, fed the client's uri, cnonce and nc) and compares the responses.
    /// The answer must be for this request's URI, and with qop only `auth`,
    /// as a real camera insists.
    private func digestMatches(_ offered: RTSPDigestParameters, method: String, requestURI: String) -> Bool {
        guard offered["username"] == policy.username, offered["realm"] == RTSPAuthPolicy.realm,
              offered["nonce"] == nonce, let uri = offered["uri"], uri == requestURI,
              let response = offered["response"] else { return false }
        if let qop = offered["qop"], qop != "auth" { return false }
        let usesQop = offered["qop"] != nil
        let cnonce = offered["cnonce"] ?? ""
        let nonceCount = offered["nc"].flatMap { UInt32($0, radix: 16) } ?? 0
        if usesQop && (cnonce.isEmpty || nonceCount == 0) { return false }
        let expected = RTSPAuthorization.digest(
            challenge: .init(realm: RTSPAuthPolicy.realm, nonce: nonce, qop: usesQop ? ["auth"] : []),
            username: policy.username, password: policy.password, method: method, uri: uri,
            cnonce: cnonce, nonceCount: nonceCount, hash: { Array(Insecure.MD5.hash(data: $0)) })
        guard case .digest(let computed)? = RTSPAuthorizationOffer(expected), let wanted = computed["response"] else { return false }
        return wanted == response.lowercased()
    }

    private func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(64).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }
}

extension RTSPResponse {
    /// A `WWW-Authenticate` value.
    struct Challenge: Equatable {
        var value: String
    }

    static func unauthorized(_ challenge: Challenge) -> RTSPResponse {
        var response = RTSPResponse(401, "Unauthorized")
        response.add("WWW-Authenticate", challenge.value)
        return response
    }
}
