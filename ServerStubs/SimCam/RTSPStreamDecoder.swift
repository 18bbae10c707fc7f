import CamMedia
import NIOCore

/// What arrives on an RTSP connection once CamMedia's decoder has framed it.
enum RTSPInbound {
    case request(RTSPRequest)
    /// A response from a client, or a request CamMedia rejected while framing
    /// stayed intact: the connection answers 400 (or 505) and carries on.
    case rejected(status: Int, reason: String, cseq: String?, explanation: String)
    /// Client-to-server interleaved data (RTCP receiver reports on the odd
    /// channel). Already consumed; only reported for bookkeeping.
    case interleaved(channel: UInt8, length: Int)
}

/// NIO's side of `RTSPDecoder`: hands it the bytes, fires what it returns. A lost
/// framing is thrown as the `RTSPDecodeError` and ends the connection.
struct RTSPStreamDecoder: ByteToMessageDecoder {
    typealias InboundOut = RTSPInbound

    private var decoder = RTSPDecoder()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let bytes = buffer.readBytes(length: buffer.readableBytes), !bytes.isEmpty {
            decoder.append(bytes)
        }
        // Everything decodable is fired now: the bytes have left `buffer`, so NIO
        // would not call back for them until more arrive.
        while let inbound = try nextInbound() {
            context.fireChannelRead(Self.wrapInboundOut(inbound))
        }
        return .needMoreData
    }

    private mutating func nextInbound() throws -> RTSPInbound? {
        do {
            guard let message = try decoder.next() else { return nil }
            switch message {
            case .request(let request):
                return .request(request)
            case .response(let response):
                return .rejected(status: 400, reason: "Bad Request", cseq: response.headers["CSeq"],
                                 explanation: "expected a request, got a response")
            case .interleaved(let frame):
                return .interleaved(channel: frame.channel, length: frame.payload.count)
            }
        } catch let error where !error.isFramingLost {
            if case .unsupportedVersion(let cseq) = error {
                return .rejected(status: 505, reason: "RTSP Version Not Supported", cseq: cseq, explanation: "")
            }
            return .rejected(status: 400, reason: "Bad Request", cseq: error.cseq, explanation: error.reason)
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        _ = try decode(context: context, buffer: &buffer)
        // A partial request at EOF cannot be answered; drop it quietly.
        _ = decoder.takeRemainingBytes()
        return .needMoreData
    }
}
