import CamNIO
import CamProtocol
import NIOCore
import NIOEmbedded
import XCTest
@testable import StreampointCore

/// The agent-link pipeline of bindAgentListener on an EmbeddedChannel: bytes in, bytes out, no sockets.
final class AgentLinkHandlerTests: XCTestCase {
    private var loop: EmbeddedEventLoop!
    private var registry: StreampointRegistry!

    override func setUp() {
        loop = EmbeddedEventLoop()
        registry = StreampointRegistry(config: testConfig(), eventLoop: loop)
    }

    private func makeLink(port: Int = 40000) throws -> EmbeddedChannel {
        let keepalive = LinkKeepaliveHandler(component: "streampoint", heartbeatInterval: .seconds(10), peerTimeout: .seconds(30))
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([
            keepalive, ByteToMessageHandler(LinkDecoder()), AgentLinkHandler(registry: registry, keepalive: keepalive),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
        return channel
    }

    private func send(_ channel: EmbeddedChannel, _ bytes: [UInt8]) {
        // Writing to a link the handler has just closed throws: that is the outcome being tested.
        try? channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    private func written(_ channel: EmbeddedChannel) -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            bytes += Array(buffer.readableBytesView)
        }
        return bytes
    }

    private func openControlLink(_ channel: EmbeddedChannel) {
        send(channel, HTTPUpgrade.request(host: "sp.test")
            + Message.hello(version: ProtocolConstants.version, role: .streampointControl, software: "test").encoded())
    }

    func testARegisterWithABadTicketIsRefusedAndTheLinkClosed() throws {
        let channel = try makeLink()
        openControlLink(channel)
        let forged = ticket(for: "cam-1", key: [UInt8](repeating: 1, count: 32))
        send(channel, Message.streamRegister(ticket: forged, targets: [rtspTarget]).encoded())

        let out = framesWritten(written(channel))
        XCTAssertEqual(out.httpHead?.hasPrefix("HTTP/1.1 101"), true)
        XCTAssertEqual(out.messages, [
            .helloAck(version: ProtocolConstants.version, server: "camagent-streampoint sp1"),
            .error(code: .invalidTicket, message: "ticket signature does not verify"),
        ])
        XCTAssertFalse(channel.isActive)
        XCTAssertTrue(registry.sessions.isEmpty)
    }

    func testAFrameOverTheLimitClosesWithFrameTooLarge() throws {
        let channel = try makeLink()
        openControlLink(channel)
        // Header of a 9000-byte STREAM_REGISTER: refused before the payload arrives.
        send(channel, [0x30, 0, 0x23, 0x28])

        let out = framesWritten(written(channel))
        guard case .error(let code, let text)? = out.messages.last else {
            return XCTFail("expected an ERROR frame, got \(out.messages)")
        }
        XCTAssertEqual(code, .frameTooLarge)
        XCTAssertTrue(text.contains("9000"), text)
        XCTAssertFalse(channel.isActive)
    }

    func testNonZeroFlagsAreAMalformedFrame() throws {
        let channel = try makeLink()
        openControlLink(channel)
        send(channel, [0x04, 0x01, 0, 0])
        guard case .error(let code, _)? = framesWritten(written(channel)).messages.last else {
            return XCTFail("expected an ERROR frame")
        }
        XCTAssertEqual(code, .malformedFrame)
        XCTAssertFalse(channel.isActive)
    }

    func testGarbageInsteadOfTheUpgradeGetsHTTP400() throws {
        let channel = try makeLink()
        send(channel, Array("BREW /coffee HTCPCP/1.0\r\n\r\n".utf8))
        let out = written(channel)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).hasPrefix("HTTP/1.1 400"), String(decoding: out, as: UTF8.self))
        XCTAssertFalse(channel.isActive)
    }

    func testAValidRegisterWithNoTargetsIsAnsweredAndForgottenWhenTheLinkCloses() throws {
        let channel = try makeLink()
        openControlLink(channel)
        send(channel, Message.streamRegister(ticket: ticket(for: "cam-1"), targets: []).encoded())
        loop.run()

        let out = framesWritten(written(channel))
        XCTAssertEqual(out.messages.last, .streamRegistered(streampointID: "sp1"))
        XCTAssertEqual(registry.sessions["cam-1"]?.remoteAddress, "127.0.0.1:40000")
        XCTAssertTrue(channel.isActive)

        try channel.close().wait()
        XCTAssertNil(registry.sessions["cam-1"])
    }

    func testATunnelBindWithAWrongTokenIsRefused() throws {
        let channel = try makeLink()
        send(channel, HTTPUpgrade.request(host: "sp.test")
            + Message.hello(version: ProtocolConstants.version, role: .tunnelData, software: "test").encoded()
            + Message.tunnelBind(tunnelID: 77, bindToken: [UInt8](repeating: 0, count: 16)).encoded())
        let out = framesWritten(written(channel))
        XCTAssertEqual(out.messages, [.error(code: .invalidBind, message: "tunnel bind refused: no pending tunnel 77")])
        XCTAssertFalse(channel.isActive)
    }
}
