import CamNIO
import CamProtocol
import NIOCore
import NIOEmbedded
import Testing

/// The NIO wrapper must behave like the core decoders: fed one byte at a time.
@Suite struct LinkDecoderTests {
    @Test func upgradeFramesThenRawAfterBind() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LinkDecoder()))
        var bytes = HTTPUpgrade.request(host: "sp")
        bytes += Message.hello(version: 1, role: .tunnelData, software: "t").encoded()
        bytes += Message.tunnelBind(tunnelID: 3, bindToken: [UInt8](repeating: 1, count: 16)).encoded()
        bytes += Array("RTSP/1.0 200 OK\r\n".utf8)
        for byte in bytes {
            var buffer = channel.allocator.buffer(capacity: 1)
            buffer.writeInteger(byte)
            try channel.writeInbound(buffer)
        }
        var upgraded = false
        var messages: [Message] = []
        var raw: [UInt8] = []
        while let inbound = try channel.readInbound(as: LinkInbound.self) {
            switch inbound {
            case .upgraded(let request): upgraded = request.path == "/camagent/v1"
            case .message(let message): messages.append(message)
            case .raw(var buffer): raw += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        }
        #expect(upgraded)
        #expect(messages.count == 2)
        #expect(raw == Array("RTSP/1.0 200 OK\r\n".utf8))
        _ = try channel.finish()
    }

    @Test func oversizeFrameSurfacesAsDecodingError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LinkDecoder()))
        var buffer = channel.allocator.buffer(capacity: 128)
        buffer.writeBytes(HTTPUpgrade.request(host: "x") + [0x01, 0x00, 0xFF, 0xFF])
        #expect(throws: LinkDecodingError.self) { try channel.writeInbound(buffer) }
    }
}
