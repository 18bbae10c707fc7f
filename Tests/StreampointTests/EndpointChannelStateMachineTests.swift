import XCTest
@testable import StreampointCore

final class EndpointChannelStateMachineTests: XCTestCase {
    private let main = "ws://main:8080/api/streampoint-channel"
    private let backup = "ws://backup:8080/api/streampoint-channel"

    private func machine() -> EndpointChannelStateMachine {
        EndpointChannelStateMachine(configuration: .init(endpoints: [main, backup], streampointID: "sp1"))
    }

    private func waits(_ actions: [EndpointChannelStateMachine.Action]) -> [Double] {
        actions.compactMap { if case .wait(let s) = $0 { return s } else { return nil } }
    }

    private func sent(_ actions: [EndpointChannelStateMachine.Action]) -> [EndpointChannelStateMachine.Action] {
        actions.filter {
            switch $0 {
            case .logDebug, .logInfo, .logWarn: return false
            default: return true
            }
        }
    }

    func testHelloThenLoadAtOnceThenEveryFiveSeconds() {
        var m = machine()
        XCTAssertEqual(m.start(), [.connect(url: main)])
        XCTAssertEqual(sent(m.connected(now: 100)),
                       [.send(#"{"streampoint":"sp1","type":"hello","version":1}"#), .sendLoad])
        XCTAssertEqual(m.nextLoadAt(), 105)
        XCTAssertEqual(m.tick(now: 104.9), [])
        XCTAssertEqual(m.tick(now: 105), [.sendLoad])
        XCTAssertEqual(m.nextLoadAt(), 110)
        XCTAssertEqual(m.tick(now: 131), [.sendLoad], "a late tick sends one load, not a burst")
        XCTAssertEqual(m.nextLoadAt(), 136)
    }

    func testTheRevokedSetReplacesTheOldOneAndSurvivesADisconnect() {
        var m = machine()
        _ = m.start()
        _ = m.connected(now: 0)
        XCTAssertEqual(sent(m.received(#"{"type":"revoked","agents":["cam-1","cam-2"]}"#)), [.applyRevoked(["cam-1", "cam-2"])])
        XCTAssertEqual(sent(m.received(#"{"type":"revoked","agents":["cam-2"]}"#)), [.applyRevoked(["cam-2"])])
        XCTAssertEqual(m.revoked, ["cam-2"])
        _ = m.disconnected(reason: "gone", jitter: 0.5)
        XCTAssertEqual(m.revoked, ["cam-2"], "fail closed: known revocations stay while the channel is down")
        XCTAssertEqual(m.received(#"{"type":"revoked","agents":[]}"#), [], "nothing is read while down")
    }

    func testUnknownTypesAreIgnoredAndMalformedFramesClose1007() {
        var m = machine()
        _ = m.start()
        _ = m.connected(now: 0)
        XCTAssertEqual(sent(m.received(#"{"type":"recording","x":1}"#)), [])
        XCTAssertEqual(sent(m.received("not json")), [.close(code: 1007, reason: "not a JSON object with a string field \"type\"")])
        XCTAssertEqual(sent(m.received(#"{"agents":[]}"#)), [.close(code: 1007, reason: "not a JSON object with a string field \"type\"")])
        XCTAssertEqual(sent(m.received(#"{"type":"revoked","agents":[1]}"#)),
                       [.close(code: 1007, reason: "revoked needs \"agents\", an array of strings")])
        XCTAssertEqual(m.revoked, [])
    }

    func testFailedDialsWalkTheListWithGrowingCappedBackoff() {
        var m = machine()
        _ = m.start()
        var delays: [Double] = []
        var urls: [String] = []
        for _ in 0..<8 {
            delays += waits(m.disconnected(reason: "refused", jitter: 0.5))
            if case .connect(let url)? = m.retry().first { urls.append(url) }
        }
        XCTAssertEqual(delays, [1, 2, 4, 8, 16, 30, 30, 30])
        XCTAssertEqual(urls, [backup, main, backup, main, backup, main, backup, main])
    }

    func testJitterSpreadsTheDelayByAQuarterEachWay() {
        var low = machine()
        _ = low.start()
        XCTAssertEqual(waits(low.disconnected(reason: "x", jitter: 0)), [0.75])
        var high = machine()
        _ = high.start()
        XCTAssertEqual(waits(high.disconnected(reason: "x", jitter: 0.999_999)).first ?? 0, 1.25, accuracy: 0.001)
        for _ in 0..<10 {
            _ = high.retry()
            _ = high.disconnected(reason: "x", jitter: 0.999_999)
        }
        XCTAssertEqual(high.backoff(jitter: 1), 30, "never over 30 s")
    }

    func testAChannelThatWasUpStartsOverAtTheMainEndpointWithTheShortestDelay() {
        var m = machine()
        _ = m.start()
        _ = m.disconnected(reason: "refused", jitter: 0.5)
        _ = m.disconnected(reason: "ignored while waiting", jitter: 0.5)
        XCTAssertEqual(m.retry(), [.connect(url: backup)])
        _ = m.connected(now: 10)
        XCTAssertNil(m.tick(now: 10).first)
        XCTAssertEqual(waits(m.disconnected(reason: "closed", jitter: 0.5)), [1])
        XCTAssertNil(m.nextLoadAt(), "no load while down")
        XCTAssertEqual(m.retry(), [.connect(url: main)])
    }
}

final class EndpointChannelOptionsTests: XCTestCase {
    func testTheAPIURLBecomesTheChannelURL() throws {
        XCTAssertEqual(try EndpointChannelOptions.channelURL(endpointAPI: "http://127.0.0.1:7001"),
                       "ws://127.0.0.1:7001/api/streampoint-channel")
        XCTAssertEqual(try EndpointChannelOptions.channelURL(endpointAPI: "https://ep.example.net:443/"),
                       "wss://ep.example.net:443/api/streampoint-channel")
        XCTAssertThrowsError(try EndpointChannelOptions.channelURL(endpointAPI: "127.0.0.1:7001"))
        XCTAssertThrowsError(try EndpointChannelOptions.channelURL(endpointAPI: "http://h:7001/api"))
        XCTAssertThrowsError(try EndpointChannelOptions.channelURL(endpointAPI: "http://h:99999"))
    }

    func testTheTokenFileIsTrimmedAndErrorsNameTheFileNotTheContent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sp-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good").path
        try "  cat_abcDEF123-_\n".write(toFile: good, atomically: true, encoding: .utf8)
        XCTAssertEqual(try EndpointChannelOptions.readToken(path: good), "cat_abcDEF123-_")

        let twoWords = dir.appendingPathComponent("two").path
        try "cat_secretpart other\n".write(toFile: twoWords, atomically: true, encoding: .utf8)
        for (path, expected) in [(twoWords, "must hold one token"), (dir.appendingPathComponent("missing").path, "cannot read")] {
            XCTAssertThrowsError(try EndpointChannelOptions.readToken(path: path)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(path) && text.contains(expected), text)
                XCTAssertFalse(text.contains("secretpart"), "the token must never be echoed")
            }
        }
        let empty = dir.appendingPathComponent("empty").path
        try "\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try EndpointChannelOptions.readToken(path: empty)) { error in
            XCTAssertEqual("\(error)", "--endpoint-token-file \(empty) is empty")
        }
    }
}
