import CamNIO
import CamProtocol
import NIOCore
import NIOEmbedded
import XCTest
@testable import StreampointCore

/// Counts the reads that get past the handler above it: the viewer's backpressure, made visible.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

final class ViewerHandlerTests: XCTestCase {
    private var loop: EmbeddedEventLoop!
    private var registry: StreampointRegistry!
    private var control: EmbeddedChannel!

    override func setUp() {
        loop = EmbeddedEventLoop()
    }

    /// A registered agent with no targets (so no real listener is bound) and its control link.
    private func register(agentID: String = "cam-1", maxTunnels: Int = 8) throws -> UInt64 {
        registry = StreampointRegistry(config: testConfig(maxTunnels: maxTunnels), eventLoop: loop)
        let keepalive = LinkKeepaliveHandler(component: "streampoint", heartbeatInterval: .seconds(10), peerTimeout: .seconds(30))
        control = EmbeddedChannel(loop: loop)
        try control.pipeline.syncOperations.addHandlers([
            keepalive, ByteToMessageHandler(LinkDecoder()), AgentLinkHandler(registry: registry, keepalive: keepalive),
        ])
        try control.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try control.writeInbound(ByteBuffer(bytes: HTTPUpgrade.request(host: "sp.test")
            + Message.hello(version: ProtocolConstants.version, role: .streampointControl, software: "test").encoded()
            + Message.streamRegister(ticket: ticket(for: agentID), targets: []).encoded()))
        loop.run()
        _ = controlMessages()
        return try XCTUnwrap(registry.sessions[agentID]?.sessionID)
    }

    private func controlMessages() -> [Message] {
        var bytes: [UInt8] = []
        while let buffer = try? control.readOutbound(as: ByteBuffer.self) { bytes += Array(buffer.readableBytesView) }
        return framesWritten(bytes).messages
    }

    private func connectViewer(sessionID: UInt64, agentID: String = "cam-1", port: Int = 50000) throws -> (EmbeddedChannel, ReadCounter) {
        let counter = ReadCounter()
        let viewer = EmbeddedChannel(handlers: [
            counter, ViewerHandler(registry: registry, sessionID: sessionID, agentID: agentID, target: rtspTarget),
        ], loop: loop)
        try viewer.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
        return (viewer, counter)
    }

    func testAViewerAsksTheAgentForATunnelToItsTarget() throws {
        let session = try register()
        let (viewer, _) = try connectViewer(sessionID: session)
        XCTAssertTrue(viewer.isActive)
        XCTAssertEqual(registry.tunnels.count, 1)
        guard case .tunnelOpen(let id, let host, let port, let token)? = controlMessages().first else {
            return XCTFail("expected TUNNEL_OPEN on the control link")
        }
        XCTAssertEqual(id, registry.tunnels.keys.first)
        XCTAssertEqual(host, "127.0.0.1")
        XCTAssertEqual(port, 554)
        XCTAssertEqual(token.count, ProtocolConstants.bindTokenSize)
    }

    func testEarlyViewerBytesAreBoundedAt64KiB() throws {
        let session = try register()
        let (viewer, counter) = try connectViewer(sessionID: session)
        try viewer.writeInbound(ByteBuffer(bytes: [UInt8](repeating: 1, count: 40 * 1024)))
        counter.reads = 0
        viewer.read()
        XCTAssertEqual(counter.reads, 1, "under the limit the viewer is still read")

        try viewer.writeInbound(ByteBuffer(bytes: [UInt8](repeating: 2, count: 30 * 1024)))
        viewer.read()
        viewer.read()
        XCTAssertEqual(counter.reads, 1, "70 KiB waiting for the agent: no more reads until it binds")
    }

    func testAViewerIsClosedWhenTheAgentNeverBinds() throws {
        let session = try register()
        let (viewer, _) = try connectViewer(sessionID: session)
        loop.advanceTime(by: .seconds(9))
        XCTAssertTrue(viewer.isActive)
        loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(viewer.isActive)
        XCTAssertTrue(registry.tunnels.isEmpty)
    }

    func testViewersOfAGoneSessionOrOverTheLimitAreRefused() throws {
        let session = try register(maxTunnels: 1)
        let (stale, _) = try connectViewer(sessionID: session + 1)
        XCTAssertFalse(stale.isActive, "a listener of an older session must not open tunnels")
        let (first, _) = try connectViewer(sessionID: session, port: 50001)
        let (second, _) = try connectViewer(sessionID: session, port: 50002)
        XCTAssertTrue(first.isActive)
        XCTAssertFalse(second.isActive)
        XCTAssertEqual(registry.tunnels.count, 1)
    }

    func testTheAgentLeavingClosesItsPendingViewers() throws {
        let session = try register()
        let (viewer, _) = try connectViewer(sessionID: session)
        try control.close().wait()
        XCTAssertFalse(viewer.isActive)
        XCTAssertTrue(registry.tunnels.isEmpty)
    }
}
