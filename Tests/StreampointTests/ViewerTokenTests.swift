import CamNIO
import CamProtocol
import XCTest
@testable import StreampointCore

/// Viewer tokens (docs/PROTOCOL.md §16): the test vector, every refusal, the
/// keys as the channel delivers them, and the log redaction.
final class ViewerTokenTests: XCTestCase {
    // §16.6
    private let vectorKey = ViewerTokenKey(id: 7, secret: [UInt8](repeating: 0x0c, count: 32))
    private let vectorText = "AQAAAAcAAAAAZVPxAAAAAABlU_8QAAhjYW0tMDAwMQAEcnRzcAAEZGVzawl0Kv9NRaPE3vpOWThJP1yufbjRfhHrh0V2KgJ0g3jZ"
    private let vectorToken = ViewerToken(keyID: 7, issuedAt: 1_700_000_000, expiresAt: 1_700_003_600,
                                          agentID: "cam-0001", target: "rtsp", label: "desk")

    private func verifier(_ keys: [ViewerTokenKey]? = nil) -> ViewerTokenVerifier {
        ViewerTokenVerifier(keys: keys ?? [vectorKey])
    }

    func testTheProtocolVectorSignsAndVerifies() {
        XCTAssertEqual(vectorToken.signed(secret: vectorKey.secret), vectorText)
        XCTAssertEqual(vectorText.utf8.count, 100)
        let result = verifier().verify(token: vectorText, agentID: "cam-0001", target: "rtsp", now: 1_700_003_599)
        XCTAssertEqual(try result.get(), vectorToken)
    }

    func testEveryRefusalReason() {
        let v = verifier()
        func check(_ token: String?, agent: String = "cam-0001", target: String = "rtsp", now: UInt64 = 1_700_000_100,
                   using: ViewerTokenVerifier? = nil) -> ViewerToken.Refusal? {
            if case .failure(let refusal) = (using ?? v).verify(token: token, agentID: agent, target: target, now: now) { return refusal }
            return nil
        }
        XCTAssertNil(check(vectorText))
        XCTAssertEqual(check(nil), .missing)
        XCTAssertEqual(check(""), .missing)
        XCTAssertEqual(check(vectorText, now: 1_700_003_600), .expired, "at expires-at it is over")
        XCTAssertEqual(check(vectorText, now: 1_800_000_000), .expired)
        XCTAssertEqual(check(vectorText, agent: "cam-0002"), .wrongAgent)
        XCTAssertEqual(check(vectorText, target: "http"), .wrongTarget)
        XCTAssertEqual(check(vectorText, using: verifier([ViewerTokenKey(id: 8, secret: vectorKey.secret)])), .unknownKey(7))
        XCTAssertEqual(check(vectorText, using: verifier([])), .unknownKey(7), "no keys yet: fail closed")
        XCTAssertEqual(check(vectorText, using: verifier([ViewerTokenKey(id: 7, secret: [UInt8](repeating: 0x0d, count: 32))])),
                       .badSignature)
        // One flipped bit anywhere after the key id: the MAC catches it before any field is read.
        var bytes = Base64URL.decode(vectorText)!
        for index in [5, 20, 40, bytes.count - 1] {
            var forged = bytes
            forged[index] ^= 0x01
            XCTAssertEqual(check(Base64URL.encode(forged)), .badSignature, "byte \(index)")
        }
        // A correctly signed body that does not decode (bytes left over) is malformed, not accepted.
        var extended = ViewerToken(keyID: 7, issuedAt: 1, expiresAt: 2_000_000_000, agentID: "cam-0001", target: "rtsp")
        let good = Base64URL.decode(extended.signed(secret: vectorKey.secret))!
        var body = Array(good.dropLast(32))
        body.append(0)
        XCTAssertEqual(check(Base64URL.encode(body + macOver(body))), .malformed)
        extended.label = "bad\nlabel"
        XCTAssertEqual(check(extended.signed(secret: vectorKey.secret)), .malformed, "control characters in the label")
        // Malformed text: padding, outside the alphabet, 4n+1, too short, too long.
        for text in [vectorText + "=", vectorText.replacingOccurrences(of: "_", with: "/"), vectorText + "A",
                     "AQAAAAc", String(repeating: "A", count: 600)] {
            XCTAssertEqual(check(text), .malformed, text)
        }
        bytes[0] = 2
        XCTAssertEqual(check(Base64URL.encode(bytes)), .malformed, "format version 2")
        XCTAssertEqual(check("AQAAAAcAAAAAZVPx%41"), .malformed, "percent-encoded")
    }

    func testBase64URLHasOneSpellingPerValue() {
        XCTAssertEqual(Base64URL.decode("Zg"), [0x66])
        XCTAssertNil(Base64URL.decode("Zh"), "unused low bits set")
        XCTAssertNil(Base64URL.decode("Zg=="), "padding")
        XCTAssertEqual(Base64URL.encode([0xfb, 0xff]), "-_8")
        XCTAssertEqual(Base64URL.decode("-_8"), [0xfb, 0xff])
        XCTAssertEqual(Base64URL.encode(Array("foobar".utf8)), "Zm9vYmFy")
    }

    private func macOver(_ body: [UInt8]) -> [UInt8] {
        hmacSHA256(key: vectorKey.secret, message: Array("camagent viewer token v1".utf8) + [0] + body)
    }

    func testRotationKeepsThePreviousKeyUntilItIsLeftOut() {
        let v = verifier()
        let next = ViewerTokenKey(id: 8, secret: [UInt8](repeating: 0x21, count: 32))
        let newer = ViewerToken(keyID: 8, issuedAt: 1_700_000_000, expiresAt: 1_700_003_600, agentID: "cam-0001", target: "rtsp")
            .signed(secret: next.secret)
        v.replaceKeys([next, vectorKey])
        XCTAssertEqual(v.keyIDs, [8, 7])
        for token in [vectorText, newer] {
            XCTAssertNoThrow(try v.verify(token: token, agentID: "cam-0001", target: "rtsp", now: 1_700_000_001).get())
        }
        v.replaceKeys([ViewerTokenKey(id: 9, secret: [UInt8](repeating: 0x22, count: 32)), next])
        XCTAssertEqual(v.verify(token: vectorText, agentID: "cam-0001", target: "rtsp", now: 1_700_000_001), .failure(.unknownKey(7)))
        XCTAssertNoThrow(try v.verify(token: newer, agentID: "cam-0001", target: "rtsp", now: 1_700_000_001).get())
    }

    func testTheTokenComesFromTheQueryOrABearerHeader() {
        XCTAssertEqual(ViewerToken.presented(query: "a=1&token=abc&b=2", authorization: nil), "abc")
        XCTAssertEqual(ViewerToken.presented(query: "tokens=x", authorization: "Bearer  xyz "), "xyz")
        XCTAssertEqual(ViewerToken.presented(query: "token=q", authorization: "Bearer h"), "q", "the query wins")
        XCTAssertNil(ViewerToken.presented(query: nil, authorization: "Basic dXNlcjpwYXNz"))
        XCTAssertEqual(ViewerToken.presented(query: "token=", authorization: nil), "", "empty: refused as missing")
    }

    func testTheViewerKeysFrameRoundTripsAndRefusesBadKeys() throws {
        let keys = [ViewerTokenKey(id: 2, secret: [UInt8](repeating: 0xfb, count: 32)), vectorKey]
        let text = StreampointChannelFrame.viewerKeys(keys).text
        XCTAssertEqual(try StreampointChannelFrame.parse(text), .viewerKeys(keys))
        XCTAssertTrue(text.contains(#""type":"viewerKeys""#) && text.contains(#""id":2"#), text)
        let secret = Base64URL.encode(vectorKey.secret)
        for bad in [#"{"type":"viewerKeys"}"#, #"{"type":"viewerKeys","keys":[{"id":1}]}"#,
                    #"{"type":"viewerKeys","keys":[{"id":-1,"secret":"\#(secret)"}]}"#,
                    #"{"type":"viewerKeys","keys":[{"id":1,"secret":"AAAA"}]}"#,
                    #"{"type":"viewerKeys","keys":[{"id":1,"secret":"\#(secret)"},{"id":1,"secret":"\#(secret)"}]}"#] {
            XCTAssertThrowsError(try StreampointChannelFrame.parse(bad), bad)
        }
    }

    func testTheChannelMachineHandsTheKeysOn() {
        var m = EndpointChannelStateMachine(configuration: .init(endpoints: ["ws://e/api/streampoint-channel"], streampointID: "sp1"))
        _ = m.start()
        _ = m.connected(now: 0)
        let actions = m.received(StreampointChannelFrame.viewerKeys([vectorKey]).text)
        XCTAssertTrue(actions.contains(.applyViewerKeys([vectorKey])), "\(actions)")
        XCTAssertEqual(m.viewerKeyIDs, [7])
        let logged = actions.compactMap { action -> String? in if case .logInfo(let t) = action { return t } else { return nil } }
        XCTAssertFalse(logged.joined().contains(Base64URL.encode(vectorKey.secret)), "ids only, never secrets")
    }

    func testLogLinesLoseTokensAndAuthorizationValues() {
        XCTAssertEqual(LogRedaction.redact("DESCRIBE rtsp://sp:8554/cam-1/rtsp?token=\(vectorText) RTSP/1.0"),
                       "DESCRIBE rtsp://sp:8554/cam-1/rtsp?token=<redacted> RTSP/1.0")
        XCTAssertEqual(LogRedaction.redact("GET /play/cam-1/rtsp?a=1&TOKEN=abc&b=2#x"), "GET /play/cam-1/rtsp?a=1&TOKEN=<redacted>&b=2#x")
        XCTAssertEqual(LogRedaction.redact("request: GET / HTTP/1.1\r\nAuthorization: Bearer cat_secret\r\nHost: x"),
                       "request: GET / HTTP/1.1\r\nAuthorization: Bearer <redacted>\r\nHost: x")
        XCTAssertEqual(LogRedaction.redact("authorization:secretonly"), "authorization:<redacted>")
        XCTAssertEqual(LogRedaction.redact("a plain line about tokens"), "a plain line about tokens")
        XCTAssertEqual(LogRedaction.redact("mytoken=keep"), "mytoken=keep", "only a parameter named token")
        XCTAssertEqual(LogRedaction.redact("?token="), "?token=")
    }
}
