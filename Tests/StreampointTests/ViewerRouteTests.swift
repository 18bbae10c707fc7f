@testable import StreampointCore
import XCTest

final class ViewerRouteTests: XCTestCase {
    func testPlayerAndLivePathsWithQueryToken() throws {
        let play = try ViewerRoute.http("/play/cam-0001/rtsp?token=abc.def").get()
        XCTAssertEqual(play, ViewerRoute(kind: .player, agentID: "cam-0001", target: "rtsp", trackControl: nil, token: "abc.def"))
        let live = try ViewerRoute.http("/live/cam-0001/rtsp-sub?x=1&token=T").get()
        XCTAssertEqual(live.kind, .live)
        XCTAssertEqual(live.target, "rtsp-sub")
        XCTAssertEqual(live.token, "T")
    }

    func testBearerHeaderWhenTheQueryHasNoToken() throws {
        XCTAssertEqual(try ViewerRoute.http("/live/cam/rtsp", authorization: "Bearer  tok ").get().token, "tok")
        XCTAssertEqual(try ViewerRoute.http("/live/cam/rtsp?token=q", authorization: "Bearer h").get().token, "q")
        XCTAssertNil(try ViewerRoute.http("/live/cam/rtsp", authorization: "Basic dXNlcjpwdw==").get().token)
        XCTAssertNil(try ViewerRoute.http("/live/cam/rtsp?token=").get().token)
    }

    func testRTSPAbsoluteAndTrackURIs() throws {
        let describe = try ViewerRoute.rtsp("rtsp://sp.example:8554/cam-0001/rtsp?token=T").get()
        XCTAssertEqual(describe, ViewerRoute(kind: .rtsp, agentID: "cam-0001", target: "rtsp", trackControl: nil, token: "T"))
        let setup = try ViewerRoute.rtsp("RTSP://[::1]:8554/cam-0001/rtsp/trackID=1").get()
        XCTAssertEqual(setup.trackControl, "trackID=1")
        XCTAssertNil(setup.token)
        XCTAssertEqual(try ViewerRoute.rtsp("/cam/rtsp").get().agentID, "cam")
    }

    func testRecordingRoutesKeepTheirParametersButNeverTheToken() throws {
        let ranges = try ViewerRoute.http("/recordings/cam-0001/rtsp?day=2026-12-03&token=T").get()
        XCTAssertEqual(ranges.kind, .recordedRanges)
        XCTAssertEqual(ranges.parameters, ["day": "2026-12-03"])
        XCTAssertEqual(ranges.token, "T")
        let play = try ViewerRoute.http("/recordings/cam-0001/rtsp/play?from=2026-12-03T10%3A00%3A00Z&speed=2&token=T").get()
        XCTAssertEqual(play.kind, .playback)
        XCTAssertEqual(play.parameters, ["from": "2026-12-03T10:00:00Z", "speed": "2"])
        let export = try ViewerRoute.http("/recordings/cam/rtsp/export.mp4?from=1&to=2&from=9").get()
        XCTAssertEqual(export.kind, .export)
        XCTAssertEqual(export.parameters, ["from": "1", "to": "2"])
        XCTAssertEqual(try ViewerRoute.http("/live/cam/rtsp?day=1").get().parameters, [:])
    }

    func testRefusals() {
        XCTAssertEqual(ViewerRoute.http("/recordings/cam/rtsp/delete"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/recordings/cam"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/recordings/cam/rtsp/play/x"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/play/cam"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/agents/cam/rtsp"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/play/cam/rtsp/extra"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/play/..%2f/rtsp"), .failure(.badIdentifier))
        XCTAssertEqual(ViewerRoute.rtsp("rtsp://host"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.rtsp("rtsp://host/cam"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.rtsp("rtsp://host/c am/rtsp"), .failure(.badIdentifier))
    }
}
