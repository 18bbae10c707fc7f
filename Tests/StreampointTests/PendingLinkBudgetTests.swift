import CamNIO
import NIOCore
import NIOEmbedded
import XCTest

/// --max-pending admission as both servers run it: links in, decisions out.
final class PendingLinkBudgetTests: XCTestCase {
    func testCapsAllLinksAndLinksFromOneAddress() {
        let budget = PendingLinkBudget(limit: 3, perAddressLimit: 2)
        XCTAssertNil(budget.admit(address: "192.0.2.1"))
        XCTAssertNil(budget.admit(address: "192.0.2.1"))
        XCTAssertEqual(budget.admit(address: "192.0.2.1"), .fullForAddress)
        XCTAssertNil(budget.admit(address: "192.0.2.2"))
        XCTAssertEqual(budget.admit(address: "192.0.2.3"), .full)
        XCTAssertEqual(budget.inUse, 3)

        budget.release(address: "192.0.2.1")
        XCTAssertNil(budget.admit(address: "192.0.2.3"))
        budget.release(address: "192.0.2.1")
        budget.release(address: "192.0.2.2")
        budget.release(address: "192.0.2.3")
        XCTAssertEqual(budget.inUse, 0)
        XCTAssertEqual(budget.addressesHoldingSlots, 0)
    }

    func testWithoutPerAddressLimitOneAddressMayTakeEverySlot() {
        let budget = PendingLinkBudget(limit: 2)
        XCTAssertNil(budget.admit(address: "192.0.2.1"))
        XCTAssertNil(budget.admit(address: "192.0.2.1"))
        XCTAssertEqual(budget.admit(address: "192.0.2.1"), .full)
    }

    func testRefusalsNameTheOptionThatRefused() {
        let budget = PendingLinkBudget(limit: 256, perAddressLimit: 32)
        XCTAssertEqual(budget.explain(.full, address: "192.0.2.1"), "already 256 connections mid-handshake (--max-pending)")
        XCTAssertEqual(budget.explain(.fullForAddress, address: "192.0.2.1"),
                       "already 32 connections mid-handshake from 192.0.2.1 (--max-pending-per-address)")
    }

    func testChannelAdmissionTakesASlotPerLinkAndRefusesBeyondTheCap() throws {
        let loop = EmbeddedEventLoop()
        let budget = PendingLinkBudget(limit: 1)
        let first = try connectedChannel(loop: loop, port: 40000)
        let second = try connectedChannel(loop: loop, port: 40001)
        let slot = try XCTUnwrap(budget.admit(first, component: "test"))
        XCTAssertNil(budget.admit(second, component: "test"))
        slot.release()
        slot.release()
        XCTAssertEqual(budget.inUse, 0, "a second release must not give back a slot it no longer holds")
        XCTAssertFalse(slot.isHeld)
        XCTAssertNotNil(budget.admit(second, component: "test"))
    }

    /// The keepalive handler gives the slot back on each road out of the handshake.
    func testKeepaliveReleasesTheSlotWhenEstablishedStoppedOrClosed() throws {
        let loop = EmbeddedEventLoop()
        let budget = PendingLinkBudget(limit: 3)

        let established = try keepaliveLink(loop: loop, budget: budget, port: 40000)
        let closed = try keepaliveLink(loop: loop, budget: budget, port: 40001)
        let tunnel = try keepaliveLink(loop: loop, budget: budget, port: 40002)
        XCTAssertEqual(budget.inUse, 3)

        let context = try established.channel.pipeline.syncOperations.context(handler: established.keepalive)
        established.keepalive.markEstablished(context: context)
        XCTAssertEqual(budget.inUse, 2)

        try closed.channel.close().wait()
        XCTAssertEqual(budget.inUse, 1)

        // A tunnel data link after TUNNEL_BIND.
        tunnel.keepalive.stop()
        XCTAssertEqual(budget.inUse, 0)

        _ = try? established.channel.finish()
        _ = try? tunnel.channel.finish()
        XCTAssertEqual(budget.inUse, 0)
    }

    private func connectedChannel(loop: EmbeddedEventLoop, port: Int) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
        return channel
    }

    private func keepaliveLink(loop: EmbeddedEventLoop, budget: PendingLinkBudget,
                               port: Int) throws -> (channel: EmbeddedChannel, keepalive: LinkKeepaliveHandler) {
        let channel = try connectedChannel(loop: loop, port: port)
        let slot = try XCTUnwrap(budget.admit(channel, component: "test"))
        let keepalive = LinkKeepaliveHandler(component: "test", heartbeatInterval: .seconds(10),
                                             peerTimeout: .seconds(30), pendingSlot: slot)
        try channel.pipeline.syncOperations.addHandler(keepalive)
        return (channel, keepalive)
    }
}
