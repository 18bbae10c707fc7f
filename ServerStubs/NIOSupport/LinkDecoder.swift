import CamProtocol
import NIOCore

/// What a server-side camagent link yields, in order: the upgrade request, then
/// control messages, then (on a tunnel data link, after TUNNEL_BIND) raw bytes.
public enum LinkInbound {
    case upgraded(UpgradeRequest)
    case message(Message)
    case raw(ByteBuffer)
}

/// A failure while decoding a link, carrying what the peer must be told.
public struct LinkDecodingError: Error {
    public var protocolError: ProtocolError
    /// True while the connection is still in its HTTP phase: answer with an HTTP
    /// status line, not an ERROR frame the peer could not parse.
    public var duringUpgrade: Bool
}

/// Thin SwiftNIO wrapper over the shared CamProtocol decoders: the same
/// single-step HTTPHeadAccumulator and FrameDecoder that the agent runs.
public struct LinkDecoder: ByteToMessageDecoder {
    public typealias InboundOut = LinkInbound

    private enum Phase {
        case upgrade(HTTPHeadAccumulator)
        case frames
        case raw
    }

    private var phase: Phase = .upgrade(HTTPHeadAccumulator())
    private var frames = FrameDecoder()

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch phase {
        case .raw:
            guard buffer.readableBytes > 0, let slice = buffer.readSlice(length: buffer.readableBytes) else {
                return .needMoreData
            }
            context.fireChannelRead(wrapInboundOut(.raw(slice)))
            return .continue
        case .upgrade(var accumulator):
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            let result: (head: [UInt8], rest: [UInt8])?
            do {
                result = try accumulator.feed(bytes)
            } catch {
                throw LinkDecodingError(protocolError: error, duringUpgrade: true)
            }
            guard let (head, rest) = result else {
                phase = .upgrade(accumulator)
                return .needMoreData
            }
            let request: UpgradeRequest
            do {
                request = try parseUpgradeRequest(head)
            } catch {
                throw LinkDecodingError(protocolError: error, duringUpgrade: true)
            }
            phase = .frames
            context.fireChannelRead(wrapInboundOut(.upgraded(request)))
            frames.append(rest)
            try drainFrames(context: context)
            return .continue
        case .frames:
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            guard !bytes.isEmpty else { return .needMoreData }
            frames.append(bytes)
            try drainFrames(context: context)
            return .continue
        }
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue, buffer.readableBytes > 0 {}
        return .needMoreData
    }

    private mutating func drainFrames(context: ChannelHandlerContext) throws {
        while case .frames = phase {
            let message: Message
            do {
                guard let frame = try frames.nextFrame() else { return }
                message = try Message(frame: frame)
            } catch {
                throw LinkDecodingError(protocolError: error, duringUpgrade: false)
            }
            context.fireChannelRead(wrapInboundOut(.message(message)))
            if case .tunnelBind = message {
                // Protocol rule: after TUNNEL_BIND the link carries the tunnel's bytes.
                phase = .raw
                let rest = frames.takeRemainingBytes()
                if !rest.isEmpty {
                    var slice = context.channel.allocator.buffer(capacity: rest.count)
                    slice.writeBytes(rest)
                    context.fireChannelRead(wrapInboundOut(.raw(slice)))
                }
            }
        }
    }
}

extension ChannelHandlerContext {
    /// Sends one control message.
    public func send(_ message: Message) {
        let bytes = message.encoded()
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        writeAndFlush(NIOAny(buffer), promise: nil)
    }

    /// Tells the peer why, then closes: an HTTP status during the upgrade, an ERROR frame after.
    public func reject(_ error: LinkDecodingError) {
        let bytes: [UInt8]
        if error.duringUpgrade {
            bytes = HTTPUpgrade.errorResponse(status: 400, reason: "Bad Request")
        } else {
            bytes = Message.error(code: error.protocolError.code, message: error.protocolError.description).encoded()
        }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        writeAndFlush(NIOAny(buffer)).whenComplete { [channel] _ in channel.close(promise: nil) }
    }

    /// Sends ERROR and closes.
    public func fail(_ code: ErrorCode, _ text: String) {
        let bytes = Message.error(code: code, message: text).encoded()
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        writeAndFlush(NIOAny(buffer)).whenComplete { [channel] _ in channel.close(promise: nil) }
    }
}
