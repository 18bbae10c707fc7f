import CamNIO
import CamProtocol
import MediaCore
import XCTest
@testable import StreampointCore

/// Camera media settings (paths, credentials) as the streampoint channel
/// carries them (docs/PROTOCOL.md §15.2 cameraMedia), the channel machine's
/// assembly of a set's parts, the pull URL's precedence, and the answers
/// to cameras' 401 challenges.
final class CameraMediaTests: XCTestCase {
    private let hikvision = CameraMediaTarget(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/101",
                                              credentials: CameraCredentials(username: "admin", password: "p\"a\\ss wörd"))

    private func machine() -> EndpointChannelStateMachine {
        var m = EndpointChannelStateMachine(configuration: .init(endpoints: ["ws://e/api/streampoint-channel"], streampointID: "sp1"))
        _ = m.start()
        _ = m.connected(now: 0)
        return m
    }

    private func logged(_ actions: [EndpointChannelStateMachine.Action]) -> String {
        actions.compactMap { action -> String? in
            switch action {
            case .logInfo(let text), .logWarn(let text), .logDebug(let text): return text
            default: return nil
            }
        }.joined(separator: "\n")
    }

    func testTheFrameRoundTripsAndItsTextHasTheDocumentedShape() throws {
        let pathOnly = CameraMediaTarget(agentID: "cam-2", target: "rtsp-sub", path: "/cam/realmonitor?channel=1&subtype=1")
        let emptyPassword = CameraMediaTarget(agentID: "cam-3", target: "rtsp", credentials: CameraCredentials(username: "viewer", password: ""))
        let frames = CameraMediaPart.frames(for: [hikvision, pathOnly, emptyPassword])
        XCTAssertEqual(frames, [.cameraMedia(CameraMediaPart(part: 1, parts: 1, targets: [hikvision, pathOnly, emptyPassword]))])
        let text = frames[0].text
        XCTAssertEqual(try StreampointChannelFrame.parse(text), frames[0])
        XCTAssertTrue(text.hasPrefix(#"{"part":1,"parts":1,"targets":[{"agent":"cam-1","password":"p\"a\\ss wörd","path":"/Streaming/Channels/101","target":"rtsp","username":"admin"}"#), text)
        XCTAssertTrue(text.contains(#"{"agent":"cam-2","path":"/cam/realmonitor?channel=1&subtype=1","target":"rtsp-sub"}"#), text)
        XCTAssertTrue(text.hasSuffix(#""type":"cameraMedia"}"#), text)
        XCTAssertEqual(CameraMediaPart.frames(for: []), [.cameraMedia(CameraMediaPart(part: 1, parts: 1, targets: []))])
    }

    func testALargeSetIsCutIntoPartsThatEachFitTheFrameLimit() throws {
        let long = String(repeating: "x", count: 255)
        let targets = (0..<2000).map { index in
            CameraMediaTarget(agentID: "cam-\(index)", target: "rtsp", path: "/" + String(long.dropFirst()),
                              credentials: CameraCredentials(username: long, password: long))
        }
        let frames = CameraMediaPart.frames(for: targets)
        XCTAssertGreaterThan(frames.count, 1)
        var reassembled: [CameraMediaTarget] = []
        for (index, frame) in frames.enumerated() {
            let text = frame.text
            XCTAssertLessThanOrEqual(text.utf8.count, StreampointChannelFrame.maxFrameBytes, "part \(index + 1)")
            guard case .cameraMedia(let part) = try StreampointChannelFrame.parse(text) else { return XCTFail("not cameraMedia") }
            XCTAssertEqual(part.part, index + 1)
            XCTAssertEqual(part.parts, frames.count)
            reassembled += part.targets
        }
        XCTAssertEqual(reassembled, targets)
    }

    func testFramesBreakingTheRulesAreMalformed() {
        let bad = [
            #"{"type":"cameraMedia","targets":[]}"#,
            #"{"type":"cameraMedia","part":0,"parts":1,"targets":[]}"#,
            #"{"type":"cameraMedia","part":2,"parts":1,"targets":[]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1025,"targets":[]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam 1","target":"rtsp"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","path":"no-slash"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","path":"/with space"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","username":"admin"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","password":"x"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","username":"a:b","password":"x"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","username":"a","password":"x\ny"}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp","path":7}]}"#,
            #"{"type":"cameraMedia","part":1,"parts":1,"targets":[{"agent":"cam-1","target":"rtsp"},{"agent":"cam-1","target":"rtsp"}]}"#,
        ]
        for text in bad {
            XCTAssertThrowsError(try StreampointChannelFrame.parse(text), text)
        }
    }

    func testTheMachineAppliesASetAtItsLastPartAndLogsNoSecret() {
        var m = machine()
        let second = CameraMediaTarget(agentID: "cam-2", target: "rtsp", path: "/live")
        let part1 = StreampointChannelFrame.cameraMedia(CameraMediaPart(part: 1, parts: 2, targets: [hikvision])).text
        let part2 = StreampointChannelFrame.cameraMedia(CameraMediaPart(part: 2, parts: 2, targets: [second])).text
        XCTAssertEqual(m.received(part1), [])
        let actions = m.received(part2)
        XCTAssertTrue(actions.contains(.applyCameraMedia([hikvision, second])), "\(actions)")
        XCTAssertEqual(m.cameraMediaCount, 2)
        let log = logged(actions)
        XCTAssertTrue(log.contains("2 target(s), 1 with credentials"), log)
        XCTAssertFalse(log.contains("wörd") || log.contains("admin"), "counts only: \(log)")

        // A restart of the set (part 1 again) drops the unfinished one.
        XCTAssertEqual(m.received(part1), [])
        XCTAssertTrue(m.received(StreampointChannelFrame.cameraMedia(CameraMediaPart(part: 1, parts: 1, targets: [])).text)
            .contains(.applyCameraMedia([])))
    }

    func testPartsOutOfOrderOrATargetTwiceCloseTheChannel() {
        var m = machine()
        let part2 = StreampointChannelFrame.cameraMedia(CameraMediaPart(part: 2, parts: 2, targets: [])).text
        XCTAssertTrue(m.received(part2).contains { if case .close(1007, _) = $0 { return true } else { return false } })

        var twice = machine()
        _ = twice.received(StreampointChannelFrame.cameraMedia(CameraMediaPart(part: 1, parts: 2, targets: [hikvision])).text)
        let actions = twice.received(StreampointChannelFrame.cameraMedia(CameraMediaPart(part: 2, parts: 2, targets: [hikvision])).text)
        XCTAssertTrue(actions.contains { if case .close(1007, _) = $0 { return true } else { return false } }, "\(actions)")
        XCTAssertFalse(actions.contains { if case .applyCameraMedia = $0 { return true } else { return false } })
    }

    func testCredentialsNeverShowTheirPasswordWhenPrinted() {
        let credentials = CameraCredentials(username: "admin", password: "hunter2")
        for text in ["\(credentials)", String(describing: credentials), String(reflecting: credentials), "\(hikvision)",
                     "\(Optional(credentials) as Any)", "\([hikvision])"] {
            XCTAssertFalse(text.contains("hunter2") || text.contains("wörd"), text)
        }
    }

    // MARK: answers to the camera's 401

    /// RFC 2617 §3.5's example, answered by the streampoint's authorizer.
    func testDigestAnswersTheRFC2617Example() throws {
        let challenge = #"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        let authorizer = try XCTUnwrap(CameraAuthorizer.make(
            challenges: [challenge], credentials: CameraCredentials(username: "Mufasa", password: "Circle Of Life"),
            cnonce: { "0a4f113b" }))
        let first = authorizer.authorization("GET", "/dir/index.html")
        XCTAssertTrue(first.contains(#"response="6629fae49393a05397450978507c4ef1""#), first)
        XCTAssertTrue(first.contains("nc=00000001") && first.contains(#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#), first)
        // The next request with the same nonce counts on.
        XCTAssertTrue(authorizer.authorization("GET", "/dir/index.html").contains("nc=00000002"))
    }

    func testDigestIsPreferredToBasicAndBasicServesWhenAlone() throws {
        let credentials = CameraCredentials(username: "admin", password: "12345")
        let both = try XCTUnwrap(CameraAuthorizer.make(challenges: [#"Basic realm="cam""#, #"Digest realm="cam", nonce="abc""#],
                                                       credentials: credentials))
        XCTAssertTrue(both.authorization("DESCRIBE", "rtsp://h/").hasPrefix("Digest username=\"admin\""))
        let basic = try XCTUnwrap(CameraAuthorizer.make(challenges: [#"Basic realm="cam""#], credentials: credentials))
        XCTAssertEqual(basic.authorization("DESCRIBE", "rtsp://h/"), "Basic YWRtaW46MTIzNDU=")
        XCTAssertNil(CameraAuthorizer.make(challenges: [#"Digest realm="cam", nonce="n", algorithm=SHA-256"#, "Bearer"],
                                           credentials: credentials), "no challenge these credentials can meet")
    }
}
