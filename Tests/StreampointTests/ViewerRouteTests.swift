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

    func testRefusals() {
        XCTAssertEqual(ViewerRoute.http("/play/cam"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/agents/cam/rtsp"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/play/cam/rtsp/extra"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.http("/play/..%2f/rtsp"), .failure(.badIdentifier))
        XCTAssertEqual(ViewerRoute.rtsp("rtsp://host"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.rtsp("rtsp://host/cam"), .failure(.notAViewerPath))
        XCTAssertEqual(ViewerRoute.rtsp("rtsp://host/c am/rtsp"), .failure(.badIdentifier))
    }
}
