import CamProtocol
import XCTest
@testable import StreampointCore

final class MediaPullURLTests: XCTestCase {
    func testWithoutAnyPathThePullAsksForTheRoot() {
        XCTAssertEqual(MediaPullURL.make(target: TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554)), "rtsp://127.0.0.1:554/")
    }

    func testTheAgentsPathIsUsed() {
        let target = TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554, path: "/Streaming/Channels/101")
        XCTAssertEqual(MediaPullURL.make(target: target), "rtsp://127.0.0.1:554/Streaming/Channels/101")
        XCTAssertEqual(MediaPullURL.make(target: TunnelTarget(name: "rtsp", host: "::1", port: 8554, path: "/live?ch=1")),
                       "rtsp://[::1]:8554/live?ch=1")
    }

    func testTheRegistrysPathWinsOverTheAgentsAndAnEmptyOneIsNone() {
        let target = TunnelTarget(name: "rtsp", host: "10.0.0.2", port: 554, path: "/agent")
        XCTAssertEqual(MediaPullURL.make(target: target, registryPath: "/registry"), "rtsp://10.0.0.2:554/registry")
        XCTAssertEqual(MediaPullURL.make(target: target, registryPath: ""), "rtsp://10.0.0.2:554/agent")
        XCTAssertEqual(MediaPullURL.make(target: TunnelTarget(name: "rtsp", host: "10.0.0.2", port: 554), registryPath: "/registry"),
                       "rtsp://10.0.0.2:554/registry")
    }
}
