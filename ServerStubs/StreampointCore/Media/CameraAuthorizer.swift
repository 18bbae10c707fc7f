import CamNIO
import Crypto
import MediaCore

/// Answers a camera's 401 with the credentials the endpoint holds for it:
/// CamMedia's Basic or Digest, with swift-crypto's MD5 for Digest (RFC 2617
/// and RFC 7616 name no other hash cameras use). Cameras offer both; MD5
/// Digest is chosen first so the password never crosses the tunnel in clear.
enum CameraAuthorizer {
    /// nil when no challenge among `challenges` (the WWW-Authenticate values)
    /// is one these credentials can meet.
    static func make(challenges: [String], credentials: CameraCredentials,
                     cnonce: @escaping () -> String = randomCnonce) -> RTSPAuthorizer? {
        let headers = RTSPHeaders(challenges.map { (name: "WWW-Authenticate", value: $0) })
        switch RTSPAuthChallenge.preferred(in: headers) {
        case .basic?:
            let value = RTSPAuthorization.basic(username: credentials.username, password: credentials.password)
            return RTSPAuthorizer { _, _ in value }
        case .digest(let challenge)?:
            // One pull's requests share the nonce; RFC 7616 wants nc to count them.
            let counter = NonceCounter(cnonce: cnonce())
            return RTSPAuthorizer { method, uri in
                RTSPAuthorization.digest(challenge: challenge, username: credentials.username, password: credentials.password,
                                         method: method, uri: uri, cnonce: counter.cnonce, nonceCount: counter.next(),
                                         hash: md5)
            }
        case nil:
            return nil
        }
    }

    static func md5(_ bytes: [UInt8]) -> [UInt8] {
        Array(Insecure.MD5.hash(data: bytes))
    }

    static func randomCnonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return HexText.encode((0..<8).map { _ in UInt8.random(in: .min ... .max, using: &generator) }, uppercase: false)
    }

    /// The authorizer's closure runs on the stream's event loop only.
    private final class NonceCounter {
        let cnonce: String
        private var count: UInt32 = 0

        init(cnonce: String) { self.cnonce = cnonce }

        func next() -> UInt32 {
            count &+= 1
            return count
        }
    }
}
