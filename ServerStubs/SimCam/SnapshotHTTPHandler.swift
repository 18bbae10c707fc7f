import NIOCore
import NIOHTTP1

/// The camera's HTTP side: the JPEG snapshot that real cameras expose for
/// thumbnails, plus a tiny index page for humans poking at it with a browser.
final class SnapshotHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let snapshot: ByteBuffer
    private var peer = "?"
    private var head: HTTPRequestHead?

    init(snapshot: ByteBuffer) {
        self.snapshot = snapshot
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = formatAddress(context.remoteAddress)
        logEvent("http client \(peer) connected")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        logEvent("http client \(peer) disconnected")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !isRoutineDisconnect(error) { logEvent("http client \(peer): closing: \(error)") }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break  // request bodies are irrelevant to every route here
        case .end:
            guard let h = head else { return }
            head = nil
            respond(to: h, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let isHead = request.method == .HEAD
        guard request.method == .GET || isHead else {
            write(status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
                  body: text("method not allowed\n"), extra: [("Allow", "GET, HEAD")],
                  omitBody: false, request: request, context: context)
            return
        }
        switch path {
        case "/snapshot.jpg", "/snapshot.jpeg", "/snapshot":
            write(status: .ok, contentType: "image/jpeg", body: snapshot,
                  extra: [("Cache-Control", "no-store")],
                  omitBody: isHead, request: request, context: context)
        case "/", "/index.html":
            let html = """
                <!doctype html>
                <html><head><title>camagent-simcam</title></head><body>
                <h1>camagent-simcam</h1>
                <p>Simulated IP camera. Snapshot: <a href="/snapshot.jpg">/snapshot.jpg</a>.
                Video: RTSP (RTP over TCP only) on the RTSP port, any path.</p>
                <img src="/snapshot.jpg" alt="snapshot">
                </body></html>

                """
            write(status: .ok, contentType: "text/html; charset=utf-8", body: text(html),
                  extra: [], omitBody: isHead, request: request, context: context)
        default:
            write(status: .notFound, contentType: "text/plain; charset=utf-8", body: text("not found\n"),
                  extra: [], omitBody: isHead, request: request, context: context)
        }
    }

    private func text(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

    private func write(
        status: HTTPResponseStatus, contentType: String, body: ByteBuffer, extra: [(String, String)],
        omitBody: Bool, request: HTTPRequestHead, context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Server", value: "camagent-simcam")
        headers.add(name: "Content-Type", value: contentType)
        // HEAD reports the length the GET body would have (RFC 9110 §9.3.2).
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        for (n, v) in extra { headers.add(name: n, value: v) }
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }

        logEvent("http \(peer) \(request.method.rawValue) \(request.uri.prefix(200)) -> \(status.code)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if !omitBody {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
