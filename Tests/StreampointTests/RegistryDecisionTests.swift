import XCTest
@testable import StreampointCore

final class RegistryDecisionTests: XCTestCase {
    func testViewerAdmission() {
        let live = ViewerAdmission.Session(sessionID: 4, isActive: true, isAnnounced: true)
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: live, tunnelsInUse: 0, maxTunnels: 1), .admit)
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 3, current: live, tunnelsInUse: 0, maxTunnels: 1),
                       .refuse(reason: "the agent is not connected", isWarning: false))
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: nil, tunnelsInUse: 0, maxTunnels: 1),
                       .refuse(reason: "the agent is not connected", isWarning: false))
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: .init(sessionID: 4, isActive: true, isAnnounced: false),
                                              tunnelsInUse: 0, maxTunnels: 1),
                       .refuse(reason: "the agent is still registering", isWarning: false))
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: live, tunnelsInUse: 1, maxTunnels: 1),
                       .refuse(reason: "1 tunnels reached --max-tunnels 1", isWarning: true))
    }

    func testTunnelIDsSkipZeroAndIDsInUseAndWrap() {
        var ids = TunnelIDAllocator()
        let inUse: Set<UInt32> = [2, 3]
        XCTAssertEqual(ids.allocate { inUse.contains($0) }, 1)
        XCTAssertEqual(ids.allocate { inUse.contains($0) }, 4)
        XCTAssertEqual(ids.allocate { _ in false }, 5, "a freed id is not reused at once")
        var wrapping = TunnelIDAllocator(next: UInt32.max)
        XCTAssertEqual(wrapping.allocate { _ in false }, UInt32.max)
        XCTAssertEqual(wrapping.allocate { _ in false }, 1, "0 is never an id")
    }
}
