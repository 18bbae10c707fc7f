import CamMedia
import Crypto
import Testing

func md5(_ input: [UInt8]) -> [UInt8] { Array(Insecure.MD5.hash(data: input)) }
func sha256(_ input: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: input)) }

@Suite struct RTSPAuthenticationTests {
    @Test func hikvisionChallengesPreferDigest() throws {
        var decoder = RTSPDecoder()
        decoder.append(Captures.hikvisionToClient)
        _ = try decoder.next()
        guard case .response(let unauthorized)? = try decoder.next() else { Issue.record("no 401"); return }
        let challenge = RTSPAuthChallenge.preferred(in: unauthorized.headers)
        #expect(challenge == .digest(.init(realm: "IP Camera(C1234)", nonce: "a1b2c3d4e5f60718293a4b5c6d7e8f90")))
        let basicOnly = RTSPHeaders([(name: "WWW-Authenticate", value: "Basic realm=\"cam\""),
                                     (name: "WWW-Authenticate", value: "Digest realm=\"cam\", nonce=\"n\", algorithm=SHA-512-256")])
        #expect(RTSPAuthChallenge.preferred(in: basicOnly) == .basic(realm: "cam"))
        #expect(RTSPAuthChallenge.preferred(in: RTSPHeaders([(name: "WWW-Authenticate", value: "Negotiate abc")])) == nil)
    }

    @Test func challengeParsing() {
        let full = RTSPAuthChallenge("Digest realm=\"a \\\"quoted\\\" realm\",nonce=\"n1\", qop=\"auth,auth-int\", algorithm=MD5-sess, opaque=\"op\", stale=TRUE")
        #expect(full == .digest(.init(realm: "a \"quoted\" realm", nonce: "n1", opaque: "op", algorithm: "MD5-sess",
                                      qop: ["auth", "auth-int"], stale: true)))
        #expect(RTSPAuthChallenge("digest nonce=\"n\"") == nil)
        #expect(RTSPAuthChallenge("Basic") == .basic(realm: nil))
        #expect(RTSPAuthChallenge("") == nil)
        #expect(RTSPAuthChallenge("Digest realm=\"unterminated") == nil)
    }

    @Test func basic() {
        // RFC 7617 §2.
        #expect(RTSPAuthorization.basic(username: "Aladdin", password: "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    }

    @Test func rfc2617DigestExample() throws {
        let header = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        guard case .digest(let challenge)? = RTSPAuthChallenge(header) else { Issue.record("not parsed"); return }
        let value = RTSPAuthorization.digest(challenge: challenge, username: "Mufasa", password: "Circle Of Life",
                                             method: "GET", uri: "/dir/index.html", cnonce: "0a4f113b", nonceCount: 1, hash: md5)
        #expect(value == "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                + "uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
                + "response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"")
    }

    @Test func rfc7616DigestExamples() throws {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        for (algorithm, hash, expected) in [("MD5", md5, "8ca523f5e9506fed4657c9700eebdbec"),
                                            ("SHA-256", sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")] {
            let challenge = RTSPAuthChallenge.DigestChallenge(realm: "http-auth@example.org", nonce: nonce,
                                                              opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
                                                              algorithm: algorithm, qop: ["auth", "auth-int"])
            let value = RTSPAuthorization.digest(challenge: challenge, username: "Mufasa", password: "Circle of Life",
                                                 method: "GET", uri: "/dir/index.html", cnonce: cnonce, nonceCount: 1, hash: hash)
            #expect(value.contains("response=\"\(expected)\""), "\(algorithm): \(value)")
            #expect(value.contains("algorithm=\(algorithm),"))
        }
    }

    /// Hikvision answers without qop: the RFC 2069 form, response = H(HA1:nonce:HA2).
    @Test func digestWithoutQop() {
        let challenge = RTSPAuthChallenge.DigestChallenge(realm: "IP Camera(C1234)", nonce: "a1b2c3d4e5f60718293a4b5c6d7e8f90")
        let uri = "rtsp://192.168.1.64:554/Streaming/Channels/101"
        let value = RTSPAuthorization.digest(challenge: challenge, username: "admin", password: "12345",
                                             method: "DESCRIBE", uri: uri, cnonce: "unused", nonceCount: 1, hash: md5)
        let hex = { (text: String) in md5(bytes(text)).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        let expected = hex(hex("admin:IP Camera(C1234):12345") + ":a1b2c3d4e5f60718293a4b5c6d7e8f90:" + hex("DESCRIBE:" + uri))
        #expect(value == "Digest username=\"admin\", realm=\"IP Camera(C1234)\", nonce=\"a1b2c3d4e5f60718293a4b5c6d7e8f90\", "
                + "uri=\"\(uri)\", response=\"\(expected)\"")
    }

    /// A server (simcam) reads the client's answer back with the same parser.
    @Test func authorizationHeadersParseForAServer() {
        #expect(RTSPAuthorizationOffer("Basic YWRtaW46MTI6MzQ=") == .basic(username: "admin", password: "12:34"))
        #expect(RTSPAuthorizationOffer("Basic !!!") == nil)
        #expect(RTSPAuthorizationOffer("Bearer abc") == nil)
        let answer = RTSPAuthorization.digest(challenge: .init(realm: "cam", nonce: "n1", qop: ["auth"]), username: "ad\"min",
                                              password: "pw", method: "DESCRIBE", uri: "rtsp://h/", cnonce: "c", nonceCount: 1, hash: md5)
        guard case .digest(let parameters)? = RTSPAuthorizationOffer(answer) else { Issue.record("not Digest: \(answer)"); return }
        #expect(parameters["USERNAME"] == "ad\"min" && parameters["uri"] == "rtsp://h/" && parameters["nc"] == "00000001")
        #expect(parameters["response"]?.count == 32 && parameters["opaque"] == nil)
    }
}
