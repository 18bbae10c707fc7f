import CamNIO
import XCTest
@testable import StreampointCore

/// The passthrough ports' first-request check (PassthroughGate), bytes in and
/// decisions out; the real ports are in EndToEndTests/PassthroughTokenTests.
final class PassthroughGateTests: XCTestCase {
    private let secret = [UInt8](repeating: 0x0c, count: 32)
    private let now: UInt64 = 1_700_000_000
    private lazy var verifier = ViewerTokenVerifier(keys: [ViewerTokenKey(id: 7, secret: secret)])

    private func token(agent: String = "cam-1", target: String = "http", expiresIn: UInt64 = 3600) -> String {
        ViewerToken(keyID: 7, issuedAt: now, expiresAt: now + expiresIn, agentID: agent, target: target).signed(secret: secret)
    }

    private func decide(_ head: String, proto: PassthroughProtocol = .http, target: String = "http") -> PassthroughGate.Decision {
        let gate = PassthroughGate(proto: proto, agentID: "cam-1", target: target)
        return gate.decide(head: Array(head.utf8), now: now) { [verifier, now] presented in
            verifier.verify(token: presented, agentID: "cam-1", target: target, now: now)
        }
    }

    private func admitted(_ decision: PassthroughGate.Decision, file: StaticString = #filePath, line: UInt = #line) -> (head: String, cookie: String?)? {
        guard case .admit(let head, let cookie) = decision else {
            XCTFail("refused: \(decision)", file: file, line: line)
            return nil
        }
        return (String(decoding: head, as: UTF8.self), cookie.map { String(decoding: $0, as: UTF8.self) })
    }

    private func refusal(_ decision: PassthroughGate.Decision) -> (status: String, reason: String, tokenRefused: Bool)? {
        guard case .refuse(let response, let reason, let tokenRefused) = decision else { return nil }
        let text = String(decoding: response, as: UTF8.self)
        return (text.components(separatedBy: "\r\n").first ?? "", reason, tokenRefused)
    }

    func testTargetNamesDecideWhatThePortSpeaks() {
        XCTAssertEqual(PassthroughProtocol(targetName: "http"), .http)
        XCTAssertEqual(PassthroughProtocol(targetName: "HTTP-admin"), .http)
        XCTAssertEqual(PassthroughProtocol(targetName: "rtsp"), .rtsp)
        XCTAssertEqual(PassthroughProtocol(targetName: "rtsp-sub"), .rtsp)
        XCTAssertEqual(PassthroughProtocol(targetName: "https"), .raw)
        XCTAssertEqual(PassthroughProtocol(targetName: "rtspx"), .raw)
        XCTAssertEqual(PassthroughProtocol(targetName: "bulk"), .raw)
    }

    func testTheHeadEndsAtTheEmptyLineAndIsBounded() {
        XCTAssertEqual(PassthroughGate.scan(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8)), .needMore)
        XCTAssertEqual(PassthroughGate.scan(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY".utf8)), .complete(length: 27))
        XCTAssertEqual(PassthroughGate.scan(Array("GET / HTTP/1.1\nHost: x\n\nBODY".utf8)), .complete(length: 24))
        XCTAssertEqual(PassthroughGate.scan([UInt8](repeating: 0x41, count: PassthroughGate.maxHeadBytes)), .tooLarge)
    }

    func testAQueryTokenIsCheckedTakenOutAndBecomesACookie() throws {
        let good = token()
        let (head, cookie) = try XCTUnwrap(admitted(decide("GET /snapshot.jpg?a=1&token=\(good)&b=2 HTTP/1.1\r\nHost: sp\r\n\r\n")))
        XCTAssertEqual(head, "GET /snapshot.jpg?a=1&b=2 HTTP/1.1\r\nHost: sp\r\n\r\n")
        XCTAssertEqual(cookie, "Set-Cookie: camagent_viewer.cam-1.http=\(good); Max-Age=3600; Path=/; HttpOnly; SameSite=Strict\r\n")
        let (alone, _) = try XCTUnwrap(admitted(decide("GET /?token=\(good) HTTP/1.1\r\n\r\n")))
        XCTAssertEqual(alone, "GET / HTTP/1.1\r\n\r\n")
    }

    func testABearerHeaderIsCheckedAndRemovedButACamerasBasicAuthPasses() throws {
        let good = token()
        let (head, cookie) = try XCTUnwrap(admitted(decide("GET /x HTTP/1.1\r\nAuthorization: Bearer \(good)\r\nAccept: */*\r\n\r\n")))
        XCTAssertEqual(head, "GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n")
        XCTAssertNotNil(cookie)
        let (basic, _) = try XCTUnwrap(admitted(decide("GET /x?token=\(good) HTTP/1.1\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n")))
        XCTAssertEqual(basic, "GET /x HTTP/1.1\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n")
    }

    func testTheCookieAdmitsAndIsTakenOutWhileTheCamerasOwnCookiesStay() throws {
        let good = token()
        let (head, cookie) = try XCTUnwrap(admitted(decide(
            "GET /style.css HTTP/1.1\r\nCookie: session=abc; camagent_viewer.cam-1.http=\(good); lang=en\r\n\r\n")))
        XCTAssertEqual(head, "GET /style.css HTTP/1.1\r\nCookie: session=abc; lang=en\r\n\r\n")
        XCTAssertNil(cookie, "a cookie that came in is not set again")
        let (only, _) = try XCTUnwrap(admitted(decide("GET / HTTP/1.1\r\nCookie: camagent_viewer.cam-1.http=\(good)\r\nHost: sp\r\n\r\n")))
        XCTAssertEqual(only, "GET / HTTP/1.1\r\nHost: sp\r\n\r\n")
    }

    func testOtherCamerasViewerCookiesNeverReachThisCamera() throws {
        let good = token(), other = token(agent: "cam-2")
        let (head, _) = try XCTUnwrap(admitted(decide(
            "GET / HTTP/1.1\r\nCookie: camagent_viewer.cam-2.http=\(other); session=abc; camagent_viewer.cam-1.http=\(good)\r\n\r\n")))
        XCTAssertEqual(head, "GET / HTTP/1.1\r\nCookie: session=abc\r\n\r\n")
        // Admitted by the query, with another camera's cookie beside it: that cookie goes too.
        let (byQuery, _) = try XCTUnwrap(admitted(decide(
            "GET /?token=\(good) HTTP/1.1\r\nCookie: camagent_viewer.cam-2.http=\(other)\r\nHost: sp\r\n\r\n")))
        XCTAssertEqual(byQuery, "GET / HTTP/1.1\r\nHost: sp\r\n\r\n")
    }

    func testNoBearerTokenReachesTheCameraWhicheverTokenWins() throws {
        let good = token(), other = token(agent: "cam-2")
        let (head, _) = try XCTUnwrap(admitted(decide(
            "GET /x?token=\(good) HTTP/1.1\r\nAuthorization: Bearer \(other)\r\nauthorization: bearer \(good)\r\nAccept: */*\r\n\r\n")))
        XCTAssertEqual(head, "GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n")
    }

    func testMissingForgedOtherCameraAndOtherTargetTokensGet401() throws {
        var forged = Array(token().utf8)
        forged[forged.count / 2] = forged[forged.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let cases: [(String, String)] = [
            ("", "viewer token missing"),
            ("?token=", "viewer token missing"),
            ("?token=\(String(decoding: forged, as: UTF8.self))", "signature"),
            ("?token=\(token(agent: "cam-2"))", "another camera"),
            ("?token=\(token(target: "rtsp"))", "another target"),
            ("?token=\(token(expiresIn: 0))", "expired"),
        ]
        for (query, expected) in cases {
            let refused = try XCTUnwrap(refusal(decide("GET /snapshot.jpg\(query) HTTP/1.1\r\nHost: sp\r\n\r\n")), query)
            XCTAssertEqual(refused.status, "HTTP/1.1 401 Unauthorized", query)
            XCTAssertTrue(refused.reason.contains(expected), "\(query): \(refused.reason)")
            XCTAssertTrue(refused.tokenRefused)
        }
        // Another camera's cookie is not this camera's.
        let otherCookie = try XCTUnwrap(refusal(decide("GET / HTTP/1.1\r\nCookie: camagent_viewer.cam-2.http=\(token(agent: "cam-2"))\r\n\r\n")))
        XCTAssertEqual(otherCookie.reason, "viewer token missing")
    }

    func testRTSPTakesTheTokenFromTheFirstRequestsURLAndEchoesOnlyANumericCSeq() throws {
        let good = token(target: "rtsp")
        let (head, cookie) = try XCTUnwrap(admitted(decide(
            "OPTIONS rtsp://127.0.0.1:4000/stream1?token=\(good) RTSP/1.0\r\nCSeq: 1\r\n\r\n", proto: .rtsp, target: "rtsp")))
        XCTAssertEqual(head, "OPTIONS rtsp://127.0.0.1:4000/stream1 RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        XCTAssertNil(cookie, "RTSP has no cookies")
        guard case .refuse(let response, _, _) = decide("DESCRIBE rtsp://h/ RTSP/1.0\r\nCSeq: 42\r\n\r\n", proto: .rtsp, target: "rtsp") else {
            return XCTFail("admitted without a token")
        }
        let text = String(decoding: response, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("RTSP/1.0 401 Unauthorized\r\nCSeq: 42\r\n"), text)
        guard case .refuse(let injected, _, _) = decide("DESCRIBE rtsp://h/ RTSP/1.0\r\nCSeq: 1\r\nX: y\r\n\r\n".replacingOccurrences(of: "CSeq: 1", with: "CSeq: 1<script>"), proto: .rtsp, target: "rtsp") else {
            return XCTFail("admitted without a token")
        }
        XCTAssertFalse(String(decoding: injected, as: UTF8.self).contains("script"))
    }

    func testBytesThatAreNotTheTargetsProtocolGet400() throws {
        XCTAssertEqual(refusal(decide("\u{16}\u{03}\u{01} garbage\r\n\r\n"))?.status, "HTTP/1.1 400 Bad Request")
        XCTAssertEqual(refusal(decide("GET / RTSP/1.0\r\n\r\n"))?.status, "HTTP/1.1 400 Bad Request")
        XCTAssertEqual(refusal(decide("GET / HTTP/1.1\r\n\r\n", proto: .rtsp, target: "rtsp"))?.status, "RTSP/1.0 400 Bad Request")
        let gate = PassthroughGate(proto: .http, agentID: "cam-1", target: "http")
        XCTAssertEqual(refusal(gate.tooLarge())?.status, "HTTP/1.1 431 Request Header Fields Too Large")
        XCTAssertEqual(refusal(gate.timedOut())?.status, "HTTP/1.1 408 Request Timeout")
    }
}
