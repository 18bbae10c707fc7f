import XCTest
@testable import StreampointCore

final class SpliceStateMachineTests: XCTestCase {
    func testHalfCloseCrossesOverAndBothShutdownsCloseBoth() {
        var splice = SpliceStateMachine()
        XCTAssertEqual(splice.inputClosed(.viewer), .shutdownOutputAfterDrain(.agent))
        XCTAssertEqual(splice.inputClosed(.viewer), .none, "a second EOF changes nothing")
        XCTAssertEqual(splice.outputShutdown(.agent), .none)
        XCTAssertEqual(splice.inputClosed(.agent), .shutdownOutputAfterDrain(.viewer))
        XCTAssertEqual(splice.outputShutdown(.viewer), .closeBoth)
        XCTAssertEqual(splice.channelInactive(.viewer), .closeAfterDrain(.agent))
        XCTAssertFalse(splice.isFinished)
        XCTAssertEqual(splice.channelInactive(.agent), .finished)
        XCTAssertTrue(splice.isFinished)
        XCTAssertEqual(splice.channelInactive(.agent), .none)
    }

    func testOneSideClosingOutrightDrainsAndClosesTheOther() {
        var splice = SpliceStateMachine()
        XCTAssertEqual(splice.channelInactive(.agent), .closeAfterDrain(.viewer))
        XCTAssertEqual(splice.inputClosed(.viewer), .none, "nothing to shut down towards a closed agent")
        XCTAssertEqual(splice.channelInactive(.viewer), .finished)
    }

    func testEOFFromAClosedSideIsIgnored() {
        var splice = SpliceStateMachine()
        _ = splice.channelInactive(.viewer)
        XCTAssertEqual(splice.inputClosed(.viewer), .none)
    }
}

final class BindDecisionTests: XCTestCase {
    private let token = [UInt8](repeating: 3, count: 16)

    func testOnlyThePendingTunnelsOwnTokenFromALiveAgentBinds() {
        let live = BindCandidate(isPending: true, ownerLinkLive: true, bindToken: token)
        XCTAssertEqual(BindDecision.decide(tunnelID: 4, candidate: live, presentedToken: token), .accept)
        XCTAssertEqual(BindDecision.decide(tunnelID: 4, candidate: nil, presentedToken: token), .reject("no pending tunnel 4"))
        var wrong = token
        wrong[15] ^= 1
        XCTAssertEqual(BindDecision.decide(tunnelID: 4, candidate: live, presentedToken: wrong),
                       .reject("bind token for tunnel 4 does not match"))
        XCTAssertEqual(BindDecision.decide(tunnelID: 4, candidate: BindCandidate(isPending: false, ownerLinkLive: true, bindToken: token),
                                           presentedToken: token), .reject("tunnel 4 is already bound"))
        XCTAssertEqual(BindDecision.decide(tunnelID: 4, candidate: BindCandidate(isPending: true, ownerLinkLive: false, bindToken: token),
                                           presentedToken: token), .reject("the agent of tunnel 4 is no longer registered"))
    }
}

final class ViewerPortAllocatorTests: XCTestCase {
    func testEphemeralAlwaysAsksForPortZero() {
        var ports = ViewerPortAllocator(base: 0)
        XCTAssertEqual(ports.reserve(), 0)
        XCTAssertEqual(ports.reserve(), 0)
    }

    func testLowestFreePortFromTheBaseAndReleasedPortsComeBack() {
        var ports = ViewerPortAllocator(base: 20000)
        XCTAssertEqual(ports.reserve(), 20000)
        XCTAssertEqual(ports.reserve(), 20001)
        XCTAssertEqual(ports.reserve(from: 20005), 20005)
        XCTAssertEqual(ports.reserve(from: 100), 20002, "never below the base")
        ports.release(20000)
        XCTAssertEqual(ports.reserve(), 20000)
    }

    func testRunsOutAtTheTopOfThePortRange() {
        var ports = ViewerPortAllocator(base: 65535)
        XCTAssertEqual(ports.reserve(), 65535)
        XCTAssertNil(ports.reserve())
    }
}
