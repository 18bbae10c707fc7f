import XCTest
@testable import StreampointCore

final class RegistryDecisionTests: XCTestCase {
    func testViewerAdmission() {
        let live = ViewerAdmission.Session(sessionID: 4, isActive: true, isAnnounced: true)
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: live, tunnelsInUse: 0, maxTunnels: 1), .admit)
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 3, current: live, tunnelsInUse: 0, maxTunnels: 1),
                       .refuse(reason: "the agent is not connected", isWarning: false, failure: .agentOffline))
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: nil, tunnelsInUse: 0, maxTunnels: 1),
                       .refuse(reason: "the agent is not connected", isWarning: false, failure: .agentOffline))
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: .init(sessionID: 4, isActive: true, isAnnounced: false),
                                              tunnelsInUse: 0, maxTunnels: 1),
                       .refuse(reason: "the agent is still registering", isWarning: false, failure: .agentRegistering))
        XCTAssertEqual(ViewerAdmission.decide(listenerSessionID: 4, current: live, tunnelsInUse: 1, maxTunnels: 1),
                       .refuse(reason: "1 tunnels reached --max-tunnels 1", isWarning: true, failure: .maxTunnels))
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

    func testRevocationClosesTheSessionsAndEveryTunnelOfRevokedAgentsOnly() {
        let plan = RevocationPlan.make(
            revoked: ["cam-1", "cam-3", "cam-9"], registeredAgents: ["cam-2", "cam-3", "cam-1"],
            tunnels: [(id: 7, agentID: "cam-1"), (id: 2, agentID: "cam-2"), (id: 5, agentID: "cam-9"), (id: 3, agentID: "cam-1")])
        XCTAssertEqual(plan, RevocationPlan(sessionsToEnd: ["cam-1", "cam-3"], tunnelsToClose: [3, 5, 7]))
        XCTAssertTrue(RevocationPlan.make(revoked: [], registeredAgents: ["cam-1"], tunnels: [(id: 1, agentID: "cam-1")]).isEmpty)
    }
}
