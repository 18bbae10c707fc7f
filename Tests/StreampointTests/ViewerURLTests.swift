import XCTest
@testable import StreampointCore

final class ViewerURLTests: XCTestCase {
    func testSchemeFollowsTheTargetName() {
        XCTAssertEqual(ViewerURL.make(targetName: "rtsp", host: "127.0.0.1", port: 40123), "rtsp://127.0.0.1:40123/")
        XCTAssertEqual(ViewerURL.make(targetName: "HTTP", host: "sp1.example.net", port: 80), "http://sp1.example.net:80/")
        XCTAssertEqual(ViewerURL.make(targetName: "ssh", host: "10.0.0.1", port: 2222), "tcp://10.0.0.1:2222/")
        XCTAssertEqual(ViewerURL.make(targetName: "rtsp-sub", host: "127.0.0.1", port: 40124), "rtsp://127.0.0.1:40124/")
        XCTAssertEqual(ViewerURL.make(targetName: "rtspx", host: "127.0.0.1", port: 40125), "tcp://127.0.0.1:40125/")
    }

    func testIPv6HostsAreBracketed() {
        XCTAssertEqual(ViewerURL.make(targetName: "rtsp", host: "::1", port: 554), "rtsp://[::1]:554/")
    }
}
