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
        let inbound: RTSPInbound
        do {
            guard let message = try decoder.next() else { return .needMoreData }
            switch message {
            case .request(let request):
                inbound = .request(request)
            case .response(let response):
                inbound = .rejected(status: 400, reason: "Bad Request", cseq: response.headers["CSeq"],
                                    explanation: "expected a request, got a response")
            case .interleaved(let frame):
                inbound = .interleaved(channel: frame.channel, length: frame.payload.count)
            }
        } catch let error where !error.isFramingLost {
            if case .unsupportedVersion(let cseq) = error {
                inbound = .rejected(status: 505, reason: "RTSP Version Not Supported", cseq: cseq, explanation: "")
            } else {
                inbound = .rejected(status: 400, reason: "Bad Request", cseq: error.cseq, explanation: error.reason)
            }
        }
        context.fireChannelRead(Self.wrapInboundOut(inbound))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A partial request at EOF cannot be answered; drop it quietly.
        _ = decoder.takeRemainingBytes()
        return .needMoreData
    }
}
