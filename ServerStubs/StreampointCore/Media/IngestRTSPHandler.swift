import CamNIO
import MediaCore
import NIOCore

/// The pull's end of its tunnel: RTSP bytes in, responses and interleaved
/// packets out to the MediaStream. Framing errors close the tunnel; the state
/// machine then reconnects with backoff.
final class IngestRTSPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private weak var stream: MediaStream?
    private let connection: IngestStateMachine.ConnectionID
    private var decoder = RTSPDecoder()
    private var closeReason = "the tunnel closed"

    init(stream: MediaStream?, connection: IngestStateMachine.ConnectionID) {
        self.stream = stream
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        decoder.append(buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [])
        do {
            while let message = try decoder.next() {
                switch message {
                case .response(let response): stream?.received(response, on: connection)
                case .interleaved(let frame): stream?.received(frame, on: connection)
                case .request: break  // a camera's own requests (rare): not answered
                }
            }
        } catch {
            closeReason = "the camera's RTSP broke framing: \(error)"
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream?.closed(connection, reason: closeReason)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeReason = "\(error)"
        context.close(promise: nil)
    }
}
