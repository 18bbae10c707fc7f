import CamNIO
import CamProtocol
import NIOCore
import NIOEmbedded
import XCTest
@testable import StreampointCore

/// The registry applying the endpoint's revoked set, on EmbeddedChannels.
final class RevocationTests: XCTestCase {
    private var loop: EmbeddedEventLoop!
    private var registry: StreampointRegistry!

    override func setUp() {
        loop = EmbeddedEventLoop()
        registry = StreampointRegistry(config: testConfig(), eventLoop: loop)
    }

    private func controlLink(agentID: String, port: Int = 40000) throws -> EmbeddedChannel {
        let keepalive = LinkKeepaliveHandler(component: "streampoint", heartbeatInterval: .seconds(10), peerTimeout: .seconds(30))
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([
            keepalive, ByteToMessageHandler(LinkDecoder()), AgentLinkHandler(registry: registry, keepalive: keepalive),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
        try? channel.writeInbound(ByteBuffer(bytes: HTTPUpgrade.request(host: "sp.test")
            + Message.hello(version: ProtocolConstants.version, role: .streampointControl, software: "test").encoded()
            + Message.streamRegister(ticket: ticket(for: agentID), targets: []).encoded()))
        loop.run()
        return channel
    }

    private func messages(_ channel: EmbeddedChannel) -> [Message] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { bytes += Array(buffer.readableBytesView) }
        return framesWritten(bytes).messages
    }

    private func viewer(of agentID: String, port: Int) throws -> EmbeddedChannel {
        let sessionID = try XCTUnwrap(registry.sessions[agentID]?.sessionID)
        let channel = EmbeddedChannel(handlers: [
            ViewerHandler(registry: registry, sessionID: sessionID, agentID: agentID, target: rtspTarget),
        ], loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
        return channel
    }

    func testARevokedAgentLosesItsSessionAndViewersAtOnceAndOthersKeepTheirs() throws {
        let revokedLink = try controlLink(agentID: "cam-1")
        let otherLink = try controlLink(agentID: "cam-2", port: 40001)
        let revokedViewer = try viewer(of: "cam-1", port: 50000)
        let otherViewer = try viewer(of: "cam-2", port: 50001)
        _ = messages(revokedLink)
        XCTAssertEqual(registry.load().viewers, 2)

        registry.applyRevoked(["cam-1"])

        XCTAssertEqual(messages(revokedLink), [.error(code: .revoked, message: "agent revoked by operator")])
        XCTAssertFalse(revokedLink.isActive)
        XCTAssertFalse(revokedViewer.isActive)
        XCTAssertNil(registry.sessions["cam-1"])
        XCTAssertTrue(otherLink.isActive)
        XCTAssertTrue(otherViewer.isActive)
        XCTAssertEqual(registry.load(), StreampointLoad(agents: 1, tunnels: 1, viewers: 1, bytesToViewers: 0, bytesFromViewers: 0))
    }

    func testARevokedAgentsRegisterIsRefusedUntilTheRevocationIsLifted() throws {
        registry.applyRevoked(["cam-1"])
        let refused = try controlLink(agentID: "cam-1")
        XCTAssertEqual(messages(refused).last, .error(code: .revoked, message: "agent revoked by operator"))
        XCTAssertFalse(refused.isActive)
        XCTAssertNil(registry.sessions["cam-1"])

        registry.applyRevoked([])
        let accepted = try controlLink(agentID: "cam-1", port: 40002)
        XCTAssertEqual(messages(accepted).last, .streamRegistered(streampointID: "sp1"))
        XCTAssertNotNil(registry.sessions["cam-1"])
    }
}
