import CamProtocol
import XCTest
@testable import StreampointCore

final class LinkStateMachineTests: XCTestCase {
    private func machineAwaitingRegister() -> StreampointLinkStateMachine {
        var machine = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        XCTAssertEqual(machine.upgraded(upgradeRequest()), .acceptUpgrade)
        XCTAssertEqual(machine.received(.hello(version: ProtocolConstants.version, role: .streampointControl, software: "t"), now: testNow),
                       .sendHelloAck(server: "camagent-streampoint sp1"))
        return machine
    }

    func testAValidTicketRegistersTheAgentItNames() {
        var machine = machineAwaitingRegister()
        XCTAssertEqual(machine.received(.heartbeat, now: testNow), .ignore)
        let action = machine.received(.streamRegister(ticket: ticket(for: "cam-1"), targets: [rtspTarget]), now: testNow)
        XCTAssertEqual(action, .register(agentID: "cam-1", targets: [rtspTarget]))
        XCTAssertEqual(machine.state, .registered(agentID: "cam-1"))
        XCTAssertTrue(machine.isControl)
    }

    func testATicketSignedWithAnotherKeyIsRefused() {
        var machine = machineAwaitingRegister()
        let forged = ticket(for: "cam-1", key: [UInt8](repeating: 1, count: 32))
        XCTAssertEqual(machine.received(.streamRegister(ticket: forged, targets: []), now: testNow),
                       .fail(.invalidTicket, "ticket signature does not verify"))
        XCTAssertEqual(machine.state, .closed)
        XCTAssertEqual(machine.received(.heartbeat, now: testNow), .ignore)
    }

    func testExpiredAndMisaddressedTicketsAreRefused() {
        var expired = machineAwaitingRegister()
        XCTAssertEqual(expired.received(.streamRegister(ticket: ticket(for: "cam-1", expiresAt: testNow - 1), targets: []), now: testNow),
                       .fail(.invalidTicket, "ticket has expired"))
        var elsewhere = machineAwaitingRegister()
        XCTAssertEqual(elsewhere.received(.streamRegister(ticket: ticket(for: "cam-1", streampoint: "sp2"), targets: []), now: testNow),
                       .fail(.invalidTicket, "ticket was issued for streampoint sp2"))
    }

    func testTargetsMustBeNamedOnceWithAHostAndAPort() {
        var twice = machineAwaitingRegister()
        XCTAssertEqual(twice.received(.streamRegister(ticket: ticket(for: "cam-1"), targets: [rtspTarget, rtspTarget]), now: testNow),
                       .fail(.malformedFrame, "STREAM_REGISTER names target rtsp twice"))
        XCTAssertEqual(StreampointLinkStateMachine.checkTargets([TunnelTarget(name: "", host: "h", port: 1)]),
                       "STREAM_REGISTER has a target without a name")
        XCTAssertEqual(StreampointLinkStateMachine.checkTargets([TunnelTarget(name: "x", host: "h", port: 0)]),
                       "target x has port 0")
        XCTAssertNil(StreampointLinkStateMachine.checkTargets([rtspTarget, TunnelTarget(name: "http", host: "h", port: 80)]))
        XCTAssertNil(StreampointLinkStateMachine.checkTargets([TunnelTarget(name: "rtsp", host: "h", port: 554, path: "/live/main")]))
        XCTAssertEqual(StreampointLinkStateMachine.checkTargets([TunnelTarget(name: "rtsp", host: "h", port: 554, path: "/a\r\nCSeq: 9")]),
                       "target rtsp has an RTSP path that is not printable ASCII from / (at most 128 bytes)")
        XCTAssertEqual(StreampointLinkStateMachine.checkTargets([TunnelTarget(name: "rtsp", host: "h", port: 554, path: "live")]),
                       "target rtsp has an RTSP path that is not printable ASCII from / (at most 128 bytes)")
    }

    func testARevokedAgentIsRefusedButOnlyAfterItsTicketVerifies() {
        var revoked = machineAwaitingRegister()
        XCTAssertEqual(revoked.received(.streamRegister(ticket: ticket(for: "cam-1"), targets: []), now: testNow, revokedAgents: ["cam-1"]),
                       .fail(.revoked, "agent revoked by operator"))
        var forged = machineAwaitingRegister()
        XCTAssertEqual(forged.received(.streamRegister(ticket: ticket(for: "cam-1", key: [UInt8](repeating: 1, count: 32)), targets: []),
                                       now: testNow, revokedAgents: ["cam-1"]),
                       .fail(.invalidTicket, "ticket signature does not verify"), "a forger learns nothing about revocations")
        var other = machineAwaitingRegister()
        XCTAssertEqual(other.received(.streamRegister(ticket: ticket(for: "cam-2"), targets: []), now: testNow, revokedAgents: ["cam-1"]),
                       .register(agentID: "cam-2", targets: []))
    }

    func testUpgradeToAnotherPathIsA404() {
        var machine = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        XCTAssertEqual(machine.upgraded(upgradeRequest(path: "/other")),
                       .rejectUpgrade(status: 404, reason: "Not Found", logReason: "upgrade request for unknown path /other"))
        XCTAssertEqual(machine.state, .closed)
    }

    func testWrongFirstMessagesAreRefusedWithTheRightCode() {
        var early = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        XCTAssertEqual(early.received(.heartbeat, now: testNow), .fail(.unexpectedMessage, "HEARTBEAT before the HTTP upgrade"))

        var endpointRole = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        _ = endpointRole.upgraded(upgradeRequest())
        guard case .fail(.unexpectedMessage, _) = endpointRole.received(.hello(version: 1, role: .endpointControl, software: "t"), now: testNow) else {
            return XCTFail("an endpoint-control HELLO must be refused")
        }

        var newer = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        _ = newer.upgraded(upgradeRequest())
        guard case .fail(.unsupportedVersion, _) = newer.received(.hello(version: 9, role: .streampointControl, software: "t"), now: testNow) else {
            return XCTFail("an unknown version must be refused")
        }

        var notRegister = machineAwaitingRegister()
        XCTAssertEqual(notRegister.received(.tunnelBind(tunnelID: 1, bindToken: []), now: testNow),
                       .fail(.unexpectedMessage, "expected STREAM_REGISTER, got TUNNEL_BIND"))
    }

    func testADataLinkBindsOnceAndARefusedBindCloses() {
        var machine = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        _ = machine.upgraded(upgradeRequest())
        XCTAssertEqual(machine.received(.hello(version: 1, role: .tunnelData, software: "t"), now: testNow), .awaitBind)
        let token = [UInt8](repeating: 9, count: 16)
        XCTAssertEqual(machine.received(.tunnelBind(tunnelID: 5, bindToken: token), now: testNow),
                       .bind(tunnelID: 5, bindToken: token))
        machine.bindResolved(accepted: true)
        XCTAssertTrue(machine.isBound)

        var refused = StreampointLinkStateMachine(streampointID: "sp1", ticketKey: testKey)
        _ = refused.upgraded(upgradeRequest())
        _ = refused.received(.hello(version: 1, role: .tunnelData, software: "t"), now: testNow)
        _ = refused.received(.tunnelBind(tunnelID: 5, bindToken: token), now: testNow)
        refused.bindResolved(accepted: false)
        XCTAssertEqual(refused.state, .closed)
    }

    func testAPeerErrorClosesWithoutAnswering() {
        var machine = machineAwaitingRegister()
        XCTAssertEqual(machine.received(.error(code: .shuttingDown, message: "bye"), now: testNow),
                       .peerError(.shuttingDown, "bye"))
        XCTAssertEqual(machine.state, .closed)
    }

    func testTunnelOpenFailedOnAControlLinkIsPassedOn() {
        var machine = machineAwaitingRegister()
        _ = machine.received(.streamRegister(ticket: ticket(for: "cam-1"), targets: []), now: testNow)
        XCTAssertEqual(machine.received(.tunnelOpenFailed(tunnelID: 3, code: .targetUnreachable, message: "refused"), now: testNow),
                       .tunnelOpenFailed(tunnelID: 3, code: .targetUnreachable, message: "refused"))
        XCTAssertEqual(machine.received(.streamRegister(ticket: ticket(for: "cam-1"), targets: []), now: testNow),
                       .fail(.unexpectedMessage, "unexpected STREAM_REGISTER on a registered control link"))
    }
}
