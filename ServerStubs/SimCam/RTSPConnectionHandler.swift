import CamMedia
import Foundation
import NIOCore

/// Shared, immutable configuration for every RTSP connection.
struct RTSPServerConfig: Sendable {
    /// The streams and the paths they are served at (StreamCatalog).
    let catalog: StreamCatalog
    /// How often an RTCP sender report accompanies the video.
    let senderReportInterval: TimeAmount = .seconds(5)
    /// Advertised in the Session header so clients send keepalives, as they
    /// would with a real camera. Not enforced: the TCP connection is the session.
    let sessionTimeoutSeconds = 60
    /// --rtsp-user: requests need credentials (RTSPAuthCheck).
    var auth: RTSPAuthPolicy? = nil
}

/// One RTSP-over-TCP client. Each connection has at most one session, on one
/// stream (video, and audio when the stream has it), and streams on its own
/// timer so clients are fully independent.
final class RTSPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RTSPInbound
    typealias OutboundOut = ByteBuffer

    static let publicMethods = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

    private let config: RTSPServerConfig
    private var context: ChannelHandlerContext?
    private var peer = "?"

    private var sessionID: String?
    /// The stream this connection's session was set up on.
    private var stream: SimStream?
    private var streamer: ClipStreamer?
    private var audio: AudioStreamer?
    private var setupURI: String?
    private var playing = false
    private var timer: Scheduled<Void>?
    private var pacingOrigin = NIODeadline.now()
    private var pacingOriginFrame: UInt64 = 0
    private var lastSenderReport: NIODeadline?

    private let authCheck: RTSPAuthCheck?

    init(config: RTSPServerConfig) {
        self.config = config
        self.authCheck = config.auth.map(RTSPAuthCheck.init(policy:))
    }

    // MARK: channel lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopStreaming()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = formatAddress(context.remoteAddress)
        logEvent("rtsp client \(peer) connected")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopStreaming()
        var stats = ""
        if let s = streamer {
            stats = " (sent \(s.framesSent) frames, skipped \(s.framesSkipped), \(s.loopsCompleted) loops"
                + (audio.map { ", \($0.framesSent) audio frames" } ?? "") + ")"
        }
        logEvent("rtsp client \(peer) disconnected\(stats)")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Framing errors (oversized headers, bad Content-Length) and socket
        // errors both end the connection; the server keeps running.
        stopStreaming()
        if let framing = error as? RTSPDecodeError {
            logEvent("rtsp client \(peer): closing: \(framing.reason)")
            if framing.isAnswerable, let context = self.context {
                var resp = RTSPResponse(400, "Bad Request")
                resp.body = Array("\(framing.reason)\r\n".utf8)
                var out = context.channel.allocator.buffer(capacity: 256)
                out.writeBytes(encode(resp, cseq: framing.cseq))
                context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
                return
            }
        } else if !isRoutineDisconnect(error) {
            logEvent("rtsp client \(peer): closing: \(error)")
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .interleaved:
            break  // RTCP receiver reports: nothing to act on.
        case .rejected(let status, let reason, let cseq, let explanation):
            logEvent("rtsp client \(peer): bad request: \(status) \(explanation)")
            var resp = RTSPResponse(status, reason)
            if !explanation.isEmpty {
                resp.body = Array("\(explanation)\r\n".utf8)
                resp.add("Content-Type", "text/plain")
            }
            send(resp, cseq: cseq)
        case .request(let request):
            handle(request)
        }
    }

    // MARK: request dispatch

    private func handle(_ req: RTSPRequest) {
        guard let cseq = req.cseq, !cseq.isEmpty else {
            var resp = RTSPResponse(400, "Bad Request")
            resp.body = Array("missing CSeq\r\n".utf8)
            send(resp, cseq: nil)
            return
        }
        if case .refused(let challenge, let why)? = authCheck?.check(req) {
            logEvent("rtsp client \(peer): \(req.method) refused with 401: \(why)")
            send(.unauthorized(challenge), cseq: cseq)
            return
        }
        switch req.method {
        case "OPTIONS":
            var resp = RTSPResponse(200, "OK")
            resp.add("Public", Self.publicMethods)
            send(resp, cseq: cseq)
        case "DESCRIBE": describe(req)
        case "SETUP": setup(req)
        case "PLAY": play(req)
        case "PAUSE": pause(req)
        case "TEARDOWN": teardown(req)
        case "GET_PARAMETER", "SET_PARAMETER":
            // Keepalive. Parameters themselves are not supported; an empty
            // 200 is what cameras commonly answer.
            if let bad = sessionMismatch(req, required: false) {
                send(bad, cseq: cseq)
                return
            }
            var resp = RTSPResponse(200, "OK")
            if let id = sessionID { resp.add("Session", sessionHeaderValue(id)) }
            send(resp, cseq: cseq)
        default:
            var resp = RTSPResponse(501, "Not Implemented")
            resp.add("Public", Self.publicMethods)
            send(resp, cseq: cseq)
        }
    }

    private func describe(_ req: RTSPRequest) {
        if let accept = req.headers["Accept"], !accept.lowercased().contains("application/sdp"), !accept.contains("*/*") {
            send(RTSPResponse(406, "Not Acceptable"), cseq: req.cseq)
            return
        }
        guard let (described, _) = config.catalog.lookup(requestURI: req.uri) else {
            send(RTSPResponse(404, "Not Found"), cseq: req.cseq)
            return
        }
        let local = context?.localAddress
        let origin = local?.ipAddress ?? "0.0.0.0"
        let isV6: Bool
        if case .v6 = local { isV6 = true } else { isV6 = false }
        let sdp = makeSDP(stream: described, sessionID: UInt64.random(in: 1...UInt64(Int64.max)), originAddress: origin, isIPv6: isV6)
        var resp = RTSPResponse(200, "OK")
        resp.add("Content-Base", RTSPURL.contentBase(forRequestURI: req.uri))
        resp.add("Content-Type", "application/sdp")
        resp.body = Array(sdp.utf8)
        send(resp, cseq: req.cseq)
    }

    private func setup(_ req: RTSPRequest) {
        guard let transportHeader = req.headers["Transport"] else {
            var resp = RTSPResponse(400, "Bad Request")
            resp.body = Array("missing Transport header\r\n".utf8)
            send(resp, cseq: req.cseq)
            return
        }
        if let bad = sessionMismatch(req, required: false) {
            send(bad, cseq: req.cseq)
            return
        }
        guard !playing else {
            send(RTSPResponse(455, "Method Not Valid in This State"), cseq: req.cseq)
            return
        }
        guard let (target, track) = config.catalog.lookup(requestURI: req.uri), (track ?? 0) < target.trackCount else {
            send(RTSPResponse(404, "Not Found"), cseq: req.cseq)
            return
        }
        if let bound = stream, bound.path != target.path {
            // One session plays one stream; a second stream needs its own connection.
            send(RTSPResponse(459, "Aggregate Operation Not Allowed"), cseq: req.cseq)
            return
        }
        guard let offered = RTSPTransport.firstInterleavedChannels(in: transportHeader) else {
            // Only TCP is offered because the stream is reached through a TCP
            // relay; 461 tells the client to retry with RTP/AVP/TCP.
            var resp = RTSPResponse(461, "Unsupported Transport")
            resp.add("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")
            send(resp, cseq: req.cseq)
            return
        }

        let channels = (rtp: UInt8(offered.rtp), rtcp: UInt8(offered.rtcp))
        let id = sessionID ?? String(format: "%016llX", UInt64.random(in: 1...UInt64.max))
        sessionID = id
        stream = target
        let ssrc: UInt32
        if track == 1, let audioClip = target.audio {
            let a = AudioStreamer(
                audio: audioClip, rtpChannel: channels.rtp, rtcpChannel: channels.rtcp,
                ssrc: UInt32.random(in: 1...UInt32.max), initialSequenceNumber: UInt16.random(in: 0...UInt16.max),
                timestampBase: UInt32.random(in: 0...UInt32.max), setupURI: req.uri)
            audio = a
            ssrc = a.ssrc
        } else {
            setupURI = req.uri
            let s = ClipStreamer(
                clip: target.clip, rtpChannel: channels.rtp, rtcpChannel: channels.rtcp,
                ssrc: UInt32.random(in: 1...UInt32.max),
                initialSequenceNumber: UInt16.random(in: 0...UInt16.max),
                timestampBase: UInt32.random(in: 0...UInt32.max))
            streamer = s
            ssrc = s.ssrc
        }

        var resp = RTSPResponse(200, "OK")
        let transport = RTSPTransport(lowerTransport: .tcp, interleaved: offered, ssrc: ssrc, mode: "PLAY")
        resp.add("Transport", transport.headerValue)
        resp.add("Session", sessionHeaderValue(id))
        send(resp, cseq: req.cseq)
    }

    private func play(_ req: RTSPRequest) {
        if let bad = sessionMismatch(req, required: true) {
            send(bad, cseq: req.cseq)
            return
        }
        guard let id = sessionID, var s = streamer else {
            send(RTSPResponse(455, "Method Not Valid in This State"), cseq: req.cseq)
            return
        }
        var resp = RTSPResponse(200, "OK")
        resp.add("Session", sessionHeaderValue(id))
        // Live source: whatever range was asked for, playback is "now onwards".
        resp.add("Range", "npt=0.000-")
        if !playing {
            if s.frameIndex > 0 { s.skipToNextIDR() }
            streamer = s
        }
        let trackURL = setupURI.map { uri in
            uri.hasSuffix(trackControl) ? uri : RTSPURL.contentBase(forRequestURI: uri) + trackControl
        } ?? RTSPURL.contentBase(forRequestURI: req.uri) + trackControl
        var rtpInfo = "url=\(trackURL);seq=\(s.nextSequenceNumber);rtptime=\(s.nextTimestamp)"
        if let a = audio {
            rtpInfo += ",url=\(a.setupURI);seq=\(a.nextSequenceNumber);rtptime=\(a.timestamp(atPicture: s.frameIndex))"
        }
        resp.add("RTP-Info", rtpInfo)
        send(resp, cseq: req.cseq)
        if !playing { startStreaming() }
    }

    private func pause(_ req: RTSPRequest) {
        if let bad = sessionMismatch(req, required: true) {
            send(bad, cseq: req.cseq)
            return
        }
        guard let id = sessionID, streamer != nil else {
            send(RTSPResponse(455, "Method Not Valid in This State"), cseq: req.cseq)
            return
        }
        stopStreaming()
        var resp = RTSPResponse(200, "OK")
        resp.add("Session", sessionHeaderValue(id))
        send(resp, cseq: req.cseq)
    }

    private func teardown(_ req: RTSPRequest) {
        if let bad = sessionMismatch(req, required: true) {
            send(bad, cseq: req.cseq)
            return
        }
        stopStreaming()
        if let s = streamer {
            logEvent("rtsp client \(peer) teardown (sent \(s.framesSent) frames, skipped \(s.framesSkipped))")
        }
        sessionID = nil
        stream = nil
        streamer = nil
        audio = nil
        setupURI = nil
        send(RTSPResponse(200, "OK"), cseq: req.cseq)
    }

    // MARK: streaming

    private func startStreaming() {
        guard let s = streamer else { return }
        playing = true
        pacingOrigin = .now()
        pacingOriginFrame = s.frameIndex
        lastSenderReport = nil
        scheduleNextTick()
    }

    private func stopStreaming() {
        playing = false
        timer?.cancel()
        timer = nil
    }

    private func scheduleNextTick() {
        guard playing, let context, let s = streamer else { return }
        let now = NIODeadline.now()
        var deadline = pacingOrigin + .nanoseconds(s.nanoseconds(forFrames: s.frameIndex - pacingOriginFrame))
        if now - deadline > .seconds(1) {
            // The event loop was starved (e.g. machine under load). Re-anchor
            // instead of bursting a backlog of frames at the client.
            pacingOrigin = now
            pacingOriginFrame = s.frameIndex
            deadline = now
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.tick()
        }
    }

    private func tick() {
        timer = nil
        guard playing, let context, context.channel.isActive, var s = streamer else { return }
        var out = context.channel.allocator.buffer(capacity: 8 * 1024)
        let (position, frameIndex) = (s.position, s.frameIndex)
        let outcome = s.tick(writable: context.channel.isWritable, into: &out)
        switch outcome {
        case .stalled:
            logEvent("rtsp client \(peer) is not reading; dropping frames until the next IDR")
        case .resumed(let skipped):
            logEvent("rtsp client \(peer) drained; resuming at IDR after \(skipped) dropped frames")
        case .sent, .skipping:
            break
        }
        if outcome != .stalled && outcome != .skipping {
            // The picture's audio goes (and is dropped) with it, so the two stay in step.
            audio?.send(picture: position, frameIndex: frameIndex, into: &out)
            let now = NIODeadline.now()
            if lastSenderReport.map({ now - $0 >= config.senderReportInterval }) ?? true {
                lastSenderReport = now
                let ntp = ntpNow()
                s.appendSenderReport(ntpTime: ntp, lastTimestamp: s.lastTimestamp, cname: "camagent-simcam", to: &out)
                audio?.appendSenderReport(ntpTime: ntp, atPicture: frameIndex, cname: "camagent-simcam", to: &out)
            }
        }
        streamer = s
        if out.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        scheduleNextTick()
    }

    // MARK: helpers

    private func send(_ response: RTSPResponse, cseq: String?) {
        guard let context else { return }
        var out = context.channel.allocator.buffer(capacity: 512 + response.body.count)
        out.writeBytes(encode(response, cseq: cseq))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    private func sessionHeaderValue(_ id: String) -> String {
        RTSPSessionHeader(id: id, timeout: config.sessionTimeoutSeconds).headerValue
    }

    /// 454 when the request names a session other than ours (or, for methods
    /// that need one, names none).
    private func sessionMismatch(_ req: RTSPRequest, required: Bool) -> RTSPResponse? {
        let given = req.headers["Session"].map { RTSPSessionHeader($0)?.id ?? "" }
        switch (given, sessionID) {
        case (nil, _):
            return required ? RTSPResponse(454, "Session Not Found") : nil
        case (let g?, let mine?) where g == mine:
            return nil
        default:
            return RTSPResponse(454, "Session Not Found")
        }
    }
}

/// Wall-clock time in NTP format for RTCP sender reports.
func ntpNow() -> (seconds: UInt32, fraction: UInt32) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    let seconds = UInt32(truncatingIfNeeded: Int64(ts.tv_sec) + 2_208_988_800)
    let fraction = UInt32(truncatingIfNeeded: (UInt64(ts.tv_nsec) << 32) / 1_000_000_000)
    return (seconds, fraction)
}

func formatAddress(_ address: SocketAddress?) -> String {
    guard let address, let ip = address.ipAddress, let port = address.port else { return "?" }
    if case .v6 = address { return "[\(ip)]:\(port)" }
    return "\(ip):\(port)"
}

/// A peer vanishing mid-stream is routine; channelInactive already logs it.
func isRoutineDisconnect(_ error: Error) -> Bool {
    guard let io = error as? IOError else { return false }
    return io.errnoCode == ECONNRESET || io.errnoCode == EPIPE
}

func logEvent(_ message: String) {
    FileHandle.standardError.write(Data("simcam: \(message)\n".utf8))
}
