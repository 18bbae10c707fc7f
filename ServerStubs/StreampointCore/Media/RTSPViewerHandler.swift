import CamNIO
import Foundation
import MediaCore
import NIOCore
import ServerMetrics

/// One RTSP player (VLC, ffplay, an NVR) on the streampoint's RTSP port,
/// served from the camera's single pull: DESCRIBE answers with the pulled
/// tracks, SETUP offers only interleaved TCP (461 for UDP, so players fall
/// back at once), PLAY starts the viewer's queue at the cached keyframe.
///
/// The viewer token is checked at DESCRIBE and binds to the connection: RTSP
/// clients do not reliably repeat the query in SETUP and PLAY.
final class RTSPViewerHandler: ChannelInboundHandler, MediaViewerOutput {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case idle
        /// DESCRIBE answered once the pull has tracks.
        case describing(cseq: String, route: ViewerRoute, deadline: Scheduled<Void>?)
        case described
        case playing
        case closed
    }

    private let table: MediaStreamTable
    /// "rtsps" on a TLS port: the Content-Base a player resolves track URLs against.
    private let scheme: String
    private let admit: (ViewerRoute) -> ViewerAdmissionResult
    private var decoder = RTSPDecoder()
    private var context: ChannelHandlerContext?
    private var phase = Phase.idle
    private var stream: MediaStream?
    private var viewer: ViewerID?
    private var route: ViewerRoute?
    private var tracks: [TrackDescription] = []
    /// Interleaved RTP channel per track, once SET UP.
    private var channels: [Int: UInt8] = [:]
    private var packetizers: [Int: TrackPacketizer] = [:]
    private let sessionID = String(UInt64.random(in: 1 ... .max), radix: 16)
    private var packets: [[UInt8]] = []
    private var timestamps = TimestampRebaser()
    /// When PLAY came (uptime ns): frames that waited for it are not the streampoint's latency.
    private var playingSince: UInt64 = 0
    private var writtenArrivals: [UInt64] = []
    private static let describeTimeout: TimeAmount = .seconds(15)
    /// A connection that has not asked for a stream by then is closed: an
    /// unauthenticated socket must not be held open for free.
    private static let firstDescribeDeadline: TimeAmount = .seconds(15)
    private static let writeBatch = 64

    init(table: MediaStreamTable, scheme: String = "rtsp", admit: @escaping (ViewerRoute) -> ViewerAdmissionResult) {
        self.table = table
        self.scheme = scheme
        self.admit = admit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        context.eventLoop.scheduleTask(in: Self.firstDescribeDeadline) { [weak self] () -> Void in
            guard let self, case .idle = self.phase else { return }
            self.context?.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        decoder.append(buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [])
        do {
            while let message = try decoder.next() {
                switch message {
                case .request(let request): handle(request, context: context)
                case .interleaved: break  // RTCP receiver reports: not needed
                case .response: break
                }
            }
        } catch {
            reply(context, RTSPResponse(status: 400, reason: "Bad Request"), cseq: nil)
            context.close(promise: nil)
        }
    }

    private func handle(_ request: RTSPRequest, context: ChannelHandlerContext) {
        let cseq = request.headers["CSeq"]
        switch request.method {
        case "OPTIONS":
            var headers = RTSPHeaders()
            headers.set("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")
            reply(context, RTSPResponse(status: 200, reason: "OK", headers: headers), cseq: cseq)
        case "DESCRIBE":
            describe(request, cseq: cseq, context: context)
        case "SETUP":
            setup(request, cseq: cseq, context: context)
        case "PLAY":
            play(cseq: cseq, context: context)
        case "TEARDOWN":
            reply(context, RTSPResponse(status: 200, reason: "OK"), cseq: cseq)
            context.close(promise: nil)
        case "GET_PARAMETER", "SET_PARAMETER":
            reply(context, RTSPResponse(status: 200, reason: "OK", headers: sessionHeaders()), cseq: cseq)
        default:
            var headers = RTSPHeaders()
            headers.set("Allow", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")
            reply(context, RTSPResponse(status: 405, reason: "Method Not Allowed", headers: headers), cseq: cseq)
        }
    }

    private func describe(_ request: RTSPRequest, cseq: String?, context: ChannelHandlerContext) {
        guard case .idle = phase else {
            return reply(context, RTSPResponse(status: 455, reason: "Method Not Valid in This State"), cseq: cseq)
        }
        let parsed: ViewerRoute
        switch ViewerRoute.rtsp(request.uri, authorization: request.headers["Authorization"]) {
        case .success(let value): parsed = value
        case .failure(let failure): return reply(context, notFound(failure.description), cseq: cseq)
        }
        switch admit(parsed) {
        case .admit: break
        case .refuse(let reason):
            var headers = RTSPHeaders()
            headers.set("WWW-Authenticate", #"Bearer realm="camagent viewer""#)
            headers.set("Content-Type", "text/plain")
            return reply(context, RTSPResponse(status: 401, reason: "Unauthorized", headers: headers,
                                               body: Array("\(reason)\n".utf8)), cseq: cseq)
        case .notFound(let reason):
            return reply(context, notFound(reason), cseq: cseq)
        }
        guard let stream = table.stream(agentID: parsed.agentID, target: parsed.target) else {
            return reply(context, notFound("agent \(parsed.agentID) has no target \(parsed.target) here"), cseq: cseq)
        }
        route = parsed
        self.stream = stream
        let timeout = context.eventLoop.scheduleTask(in: Self.describeTimeout) { [weak self] () -> Void in
            self?.describeTimedOut()
        }
        phase = .describing(cseq: cseq ?? "0", route: parsed, deadline: timeout)
        viewer = stream.attach(self)
        StreampointMetrics.mediaViewerJoined(.rtsp)
    }

    private func describeTimedOut() {
        guard let context, case .describing(let cseq, _, _) = phase else { return }
        reply(context, RTSPResponse(status: 503, reason: "Service Unavailable",
                                    body: Array("the camera did not answer in time\n".utf8)), cseq: cseq)
        context.close(promise: nil)
    }

    private func answerDescribe(tracks: [TrackDescription], cseq: String, context: ChannelHandlerContext) {
        self.tracks = tracks
        let host = describeLocal(context.channel.localAddress)
        var media: [SDPMedia] = []
        for (index, track) in tracks.enumerated() {
            var attributes: [SDPAttribute] = []
            if track.width > 0 { attributes.append(SDPAttribute("framesize", "\(track.payloadType) \(track.width)-\(track.height)")) }
            media.append(SDPMedia(track: track, control: "trackID=\(index)", extraAttributes: attributes))
        }
        let session = SessionDescription(
            origin: SessionDescription.origin(sessionID: UInt64.random(in: 1 ... 1 << 40), address: host),
            name: "camagent", connection: host.contains(":") ? "IN IP6 ::" : "IN IP4 0.0.0.0",
            attributes: [SDPAttribute("control", "*"), SDPAttribute("range", "npt=0-")], media: media)
        var headers = RTSPHeaders()
        headers.set("Content-Type", "application/sdp")
        headers.set("Content-Base", baseURL(context: context))
        reply(context, RTSPResponse(status: 200, reason: "OK", headers: headers, body: Array(session.text.utf8)), cseq: cseq)
        phase = .described
    }

    private func baseURL(context: ChannelHandlerContext) -> String {
        let host = describeLocal(context.channel.localAddress)
        let port = context.channel.localAddress?.port ?? 0
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)/\(route?.agentID ?? "")/\(route?.target ?? "")/"
    }

    private func setup(_ request: RTSPRequest, cseq: String?, context: ChannelHandlerContext) {
        guard case .described = phase else {
            return reply(context, RTSPResponse(status: 455, reason: "Method Not Valid in This State"), cseq: cseq)
        }
        let control = (try? ViewerRoute.rtsp(request.uri).get())?.trackControl
        guard let control, control.hasPrefix("trackID="), let index = Int(control.dropFirst(8)), tracks.indices.contains(index) else {
            return reply(context, notFound("no such track in \(request.uri)"), cseq: cseq)
        }
        let offers = RTSPTransport.parseList(request.headers["Transport"] ?? "")
        guard let offer = offers.first(where: { $0.lowerTransport == .tcp && !$0.isMulticast }) else {
            var headers = RTSPHeaders()
            headers.set("Transport", "RTP/AVP/TCP;unicast;interleaved=\(2 * index)-\(2 * index + 1)")
            return reply(context, RTSPResponse(status: 461, reason: "Unsupported Transport", headers: headers), cseq: cseq)
        }
        let pair = offer.interleaved ?? RTSPTransport.Pair(rtp: 2 * index, rtcp: 2 * index + 1)
        guard (0...254).contains(pair.rtp) else {
            return reply(context, RTSPResponse(status: 461, reason: "Unsupported Transport"), cseq: cseq)
        }
        channels[index] = UInt8(pair.rtp)
        let ssrc = UInt32.random(in: 1 ... .max)
        packetizers[index] = TrackPacketizer(tracks[index], ssrc: ssrc)
        var headers = sessionHeaders()
        headers.set("Transport", "RTP/AVP/TCP;unicast;interleaved=\(pair.rtp)-\(pair.rtcp);ssrc=\(String(ssrc, radix: 16, uppercase: true))")
        reply(context, RTSPResponse(status: 200, reason: "OK", headers: headers), cseq: cseq)
    }

    private func play(cseq: String?, context: ChannelHandlerContext) {
        guard case .described = phase, !channels.isEmpty else {
            return reply(context, RTSPResponse(status: 455, reason: "Method Not Valid in This State"), cseq: cseq)
        }
        var headers = sessionHeaders()
        headers.set("Range", "npt=0.000-")
        reply(context, RTSPResponse(status: 200, reason: "OK", headers: headers), cseq: cseq)
        phase = .playing
        playingSince = NIODeadline.now().uptimeNanoseconds
        mediaAvailable()
    }

    private func sessionHeaders() -> RTSPHeaders {
        var headers = RTSPHeaders()
        headers.set("Session", "\(sessionID);timeout=60")
        return headers
    }

    private func notFound(_ reason: String) -> RTSPResponse {
        var headers = RTSPHeaders()
        headers.set("Content-Type", "text/plain")
        return RTSPResponse(status: 404, reason: "Not Found", headers: headers, body: Array("\(reason)\n".utf8))
    }

    private func reply(_ context: ChannelHandlerContext, _ response: RTSPResponse, cseq: String?) {
        var response = response
        if let cseq { response.headers.set("CSeq", cseq) }
        response.headers.set("Server", "camagent-streampoint")
        if !response.body.isEmpty { response.headers.set("Content-Length", "\(response.body.count)") }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: RTSPEncoder.encode(response))), promise: nil)
    }

    // MARK: MediaViewerOutput

    func mediaAvailable() {
        guard let context, let stream, let viewer else { return }
        switch phase {
        case .describing(let cseq, _, let deadline):
            // Before PLAY only the track list is taken; frames wait (bounded) in the queue.
            guard case .tracks(let tracks, _)? = stream.next(for: viewer) else { return }
            deadline?.cancel()
            answerDescribe(tracks: tracks, cseq: cseq, context: context)
        case .playing:
            var written = 0
            writtenArrivals.removeAll(keepingCapacity: true)
            while context.channel.isWritable, written < Self.writeBatch, let taken = stream.take(for: viewer) {
                switch taken.item {
                case .tracks(_, let isChange) where isChange:
                    // New codec or picture size: this session's SDP is stale. End it
                    // cleanly; the player reconnects and DESCRIBEs the new stream.
                    context.flush()
                    context.close(promise: nil)
                    return
                case .tracks:
                    break
                case .discontinuity:
                    timestamps.restart()
                case .frame(let frame):
                    write(frame, context: context)
                    if taken.arrivedAt >= playingSince { writtenArrivals.append(taken.arrivedAt) }
                }
                written += 1
            }
            if written > 0 { context.flush() }
            if !writtenArrivals.isEmpty {
                StreampointMetrics.mediaFramesWritten(.rtsp, arrivals: writtenArrivals, now: NIODeadline.now().uptimeNanoseconds)
            }
            if written == Self.writeBatch {
                context.eventLoop.execute { [weak self] in self?.mediaAvailable() }
            } else if !context.channel.isWritable {
                stream.setWritable(viewer, false)
            }
        case .idle, .described, .closed:
            break
        }
    }

    private func write(_ frame: MediaFrame, context: ChannelHandlerContext) {
        guard let channel = channels[frame.track], var packetizer = packetizers[frame.track] else { return }
        packets.removeAll(keepingCapacity: true)
        var rebased = frame
        rebased.timestamp = timestamps.rebase(frame.timestamp, track: frame.track, clockRate: tracks.indices.contains(frame.track) ? tracks[frame.track].clockRate : 90_000)
        packetizer.packetize(rebased, into: &packets)
        packetizers[frame.track] = packetizer
        var total = 0
        for packet in packets { total += 4 + packet.count }
        var buffer = context.channel.allocator.buffer(capacity: total)
        for packet in packets {
            buffer.writeInteger(UInt8(ascii: "$"))
            buffer.writeInteger(channel)
            buffer.writeInteger(UInt16(packet.count))
            buffer.writeBytes(packet)
        }
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// A player still waiting for DESCRIBE hears why at once instead of after describeTimeout.
    func pullProblem(_ message: String) {
        guard let context, case .describing(let cseq, _, let deadline) = phase else { return }
        deadline?.cancel()
        phase = .closed
        reply(context, RTSPResponse(status: 503, reason: "Service Unavailable", body: Array("\(message)\n".utf8)), cseq: cseq)
        context.close(promise: nil)
    }

    func streamEnded(reason: String) {
        if viewer != nil { StreampointMetrics.mediaViewerLeft(.rtsp) }
        viewer = nil
        context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let viewer, let stream, context.channel.isWritable { stream.setWritable(viewer, true) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .describing(_, _, let deadline) = phase { deadline?.cancel() }
        phase = .closed
        if let viewer, let stream {
            stream.detach(viewer)
            StreampointMetrics.mediaViewerLeft(.rtsp)
        }
        viewer = nil
        stream = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

private func describeLocal(_ address: SocketAddress?) -> String {
    address?.ipAddress ?? "0.0.0.0"
}
