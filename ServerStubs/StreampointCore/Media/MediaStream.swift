import CamNIO
import CamProtocol
import Foundation
import MediaCore
import NIOCore
import ServerMetrics

/// A viewer output (RTSP session, fMP4 WebSocket) as the stream sees it.
protocol MediaViewerOutput: AnyObject {
    /// Items wait in the viewer's queue: take them with `MediaStream.next(for:)` while writable.
    func mediaAvailable()
    /// The stream is gone for good (agent left, revoked, target gone): close.
    func streamEnded(reason: String)
    /// The pull cannot get the picture and keeps retrying (e.g. the camera
    /// refused the credentials): tell the viewer, who may stay or go.
    func pullProblem(_ message: String)
}

/// One camera target's single pull and all its viewers, on the registry's
/// event loop: IngestStateMachine decides, this class performs its actions
/// (tunnel, RTSP requests, timers), turns interleaved RTP into frames, and
/// hands them to the MediaFanout every viewer output reads from.
final class MediaStream {
    let agentID: String
    let target: String
    /// What the pull asks the camera for (MediaStreamTable.ingestURL).
    let url: String
    private let registry: StreampointRegistry
    private let eventLoop: EventLoop
    private var machine: IngestStateMachine
    private(set) var fanout: MediaFanout
    private var outputs: [ViewerID: MediaViewerOutput] = [:]
    private var channel: (id: IngestStateMachine.ConnectionID, channel: Channel)?
    private var routes: [UInt8: Int] = [:]
    private var depacketizers: [TrackDepacketizer] = []
    /// Each depacketiser's parameter-set version when its track was last published.
    private var publishedParameterSets: [Int] = []
    private var timer: Scheduled<Void>?
    private var scheduledFor: Double?
    private var frames: [MediaFrame] = []
    /// Whether this stream counts in the media_pulls gauge.
    private var countedAsPulling = false
    /// The connection the camera's credentials were last given for: a 401 on it means they are wrong.
    private var authorizedConnection: IngestStateMachine.ConnectionID?
    /// Called once the pull has stopped and no viewer is left: the table forgets the stream.
    var onIdle: ((MediaStream) -> Void)?

    var label: String { "media \(agentID)/\(target)" }
    var viewerCount: Int { fanout.viewerCount }
    var isPlaying: Bool { machine.isPlaying }

    init(agentID: String, target: String, url: String, linger: Double, queueBytes: Int, registry: StreampointRegistry) {
        self.agentID = agentID
        self.target = target
        self.url = url
        self.registry = registry
        self.eventLoop = registry.eventLoop
        var configuration = IngestStateMachine.Configuration(url: url)
        configuration.linger = linger
        machine = IngestStateMachine(configuration: configuration, seed: UInt64.random(in: .min ... .max))
        fanout = MediaFanout(configuration: .init(
            queueLimits: MediaBufferLimits(maxBytes: queueBytes, maxFrames: ViewerQueue.defaultLimits.maxFrames)))
    }

    static func now() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    // MARK: viewers

    func attach(_ output: MediaViewerOutput) -> ViewerID {
        eventLoop.assertInEventLoop()
        let id = fanout.addViewer()
        outputs[id] = output
        handle(.viewerJoined)
        // After the caller has stored the id: the queue already holds the tracks and the cached GOP.
        eventLoop.execute { [weak output] in output?.mediaAvailable() }
        return id
    }

    func detach(_ id: ViewerID) {
        eventLoop.assertInEventLoop()
        guard outputs.removeValue(forKey: id) != nil else { return }
        if let stats = fanout.removeViewer(id), stats.droppedFrames > 0 {
            StreampointMetrics.mediaFramesDropped(stats.droppedFrames)
            ServerLog.info("streampoint", "\(label): \(id) left having skipped \(stats.droppedFrames) frames (\(stats.droppedBytes) bytes) in \(stats.skips) skips to a keyframe")
        }
        handle(.viewerLeft)
    }

    func next(for id: ViewerID) -> ViewerItem? { fanout.next(for: id) }

    /// `next(for:)`, with when the frame came in from the tunnel (uptime ns; 0: not timed).
    func take(for id: ViewerID) -> (item: ViewerItem, arrivedAt: UInt64)? { fanout.take(for: id) }

    func setWritable(_ id: ViewerID, _ writable: Bool) {
        if fanout.setWritable(id, writable) { outputs[id]?.mediaAvailable() }
    }

    /// The agent's session ended or it was revoked: every viewer goes, the pull stops.
    func end(reason: String) {
        let ending = outputs
        outputs.removeAll()
        for id in ending.keys {
            if let stats = fanout.removeViewer(id) { StreampointMetrics.mediaFramesDropped(stats.droppedFrames) }
        }
        for output in ending.values { output.streamEnded(reason: reason) }
        for _ in ending { handle(.viewerLeft) }
        if let current = channel { current.channel.close(promise: nil) }
    }

    // MARK: the state machine

    private func handle(_ event: IngestStateMachine.Event) {
        perform(machine.handle(event, now: MediaStream.now()))
    }

    private func perform(_ actions: [IngestStateMachine.Action]) {
        for action in actions { perform(action) }
        if machine.isPlaying != countedAsPulling {
            countedAsPulling = machine.isPlaying
            if countedAsPulling { StreampointMetrics.mediaPullStarted() } else { StreampointMetrics.mediaPullStopped() }
        }
        rearmTimer()
        if machine.isIdle, outputs.isEmpty, channel == nil { onIdle?(self) }
    }

    private func perform(_ action: IngestStateMachine.Action) {
        switch action {
        case .openTunnel(let id):
            openTunnel(id)
        case .closeTunnel(let id):
            guard let current = channel, current.id == id else { return }
            channel = nil
            current.channel.writeAndFlush(ByteBuffer()).whenComplete { _ in current.channel.close(promise: nil) }
        case .send(let id, let request):
            guard let current = channel, current.id == id else { return }
            let bytes = RTSPEncoder.encode(request)
            current.channel.writeAndFlush(current.channel.allocator.buffer(bytes: bytes), promise: nil)
        case .needAuthorization(let id, let challenges):
            let credentials = registry.media.cameraMedia(agentID: agentID, target: target)?.credentials
            let authorizer = credentials.flatMap { CameraAuthorizer.make(challenges: challenges, credentials: $0) }
            if authorizer != nil {
                authorizedConnection = id
            } else if credentials == nil {
                ServerLog.warn("streampoint", "\(label): the camera asks for credentials and the endpoint holds none for it (PUT /api/agents/\(agentID)/targets/\(target)/media)")
                tellViewers("the camera needs credentials, and none are set for it; retrying")
            } else {
                ServerLog.warn("streampoint", "\(label): the camera offers no Basic or MD5 Digest challenge the credentials could answer")
                tellViewers("the camera asks for an authentication this streampoint cannot answer; retrying")
            }
            eventLoop.execute { [self] in handle(.authorization(id, authorizer)) }
        case .parseDescription(let id, let sdp, _):
            let description = Self.ingestDescription(sdp: sdp)
            if description == nil { ServerLog.warn("streampoint", "\(label): the camera's SDP has no track we can use") }
            eventLoop.execute { [self] in handle(.descriptionParsed(id, description)) }
        case .publishTracks(let described, let channels):
            routes = [:]
            depacketizers = described.enumerated().map { TrackDepacketizer($1, track: $0) }
            // The picture size comes from the SDP's own parameter sets, so that an
            // identical in-band SPS later is not mistaken for a change.
            let tracks = zip(depacketizers, described).map { $0.updated($1) }
            publishedParameterSets = depacketizers.map(\.parameterSetsVersion)
            for entry in channels { routes[entry.rtp] = entry.track }
            for id in fanout.sourceStarted(tracks: tracks) { outputs[id]?.mediaAvailable() }
            ServerLog.info("streampoint", "\(label): pulling \(tracks.map { "\($0.codec)" }.joined(separator: "+"))")
        case .stopped:
            ServerLog.info("streampoint", "\(label): pull stopped")
        case .log(let level, let message):
            switch level {
            case .debug: ServerLog.debug("streampoint", "\(label): \(message)")
            case .info: ServerLog.info("streampoint", "\(label): \(message)")
            case .warning: ServerLog.warn("streampoint", "\(label): \(message)")
            }
        }
    }

    /// A deadline that moved later (every frame pushes the media timeout on)
    /// keeps the armed timer: its tick finds nothing due and arms the next one.
    private func rearmTimer() {
        let deadline = machine.nextDeadline
        if let deadline, let armed = scheduledFor, timer != nil, armed <= deadline { return }
        guard deadline != scheduledFor else { return }
        timer?.cancel()
        timer = nil
        scheduledFor = deadline
        guard let deadline else { return }
        let delay = max(0, deadline - MediaStream.now())
        timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(delay * 1e9) + 1_000_000)) { [self] in
            scheduledFor = nil
            timer = nil
            handle(.tick)
        }
    }

    /// New parameter sets that replace known ones (a new resolution, a
    /// substream switch). Sets first learnt in band, when the SDP had none,
    /// change nothing a viewer already holds.
    static func isMaterialChange(from old: TrackDescription, to new: TrackDescription) -> Bool {
        func replaced(_ a: [UInt8], _ b: [UInt8]) -> Bool { !a.isEmpty && a != b }
        return old.codec != new.codec || replaced(old.sps, new.sps) || replaced(old.pps, new.pps) || replaced(old.vps, new.vps)
    }

    static func ingestDescription(sdp: [UInt8]) -> IngestDescription? {
        guard let session = try? SessionDescription(parsing: String(decoding: sdp, as: UTF8.self)) else { return nil }
        var tracks: [TrackDescription] = []
        var controls: [String] = []
        for media in session.media {
            guard let track = media.trackDescription() else { continue }
            tracks.append(track)
            controls.append(media.control ?? "")
        }
        guard !tracks.isEmpty else { return nil }
        return IngestDescription(tracks: tracks, trackControls: controls, sessionControl: session.control)
    }

    // MARK: the pull's tunnel

    private func openTunnel(_ id: IngestStateMachine.ConnectionID) {
        registry.openIngestConnection(agentID: agentID, targetName: target) { [weak self] channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(IngestRTSPHandler(stream: self, connection: id))
            }
        }.whenComplete { [self] result in
            switch result {
            case .success(let opened):
                channel = (id, opened)
                handle(.tunnelOpened(id))
            case .failure(let error):
                handle(.tunnelFailed(id, reason: "\(error)"))
            }
        }
    }

    // Events from IngestRTSPHandler.

    func received(_ response: RTSPResponse, on id: IngestStateMachine.ConnectionID) {
        // A 401 to a keep-alive or TEARDOWN (a camera's nonce went stale) is
        // not a refusal: IngestStateMachine ignores those once the pull plays.
        if response.status == 401, authorizedConnection == id, !isPlaying {
            authorizedConnection = nil
            let user = registry.media.cameraMedia(agentID: agentID, target: target)?.credentials?.username ?? "?"
            ServerLog.warn("streampoint", "\(label): the camera refused the credentials of user \(LogText.peer(user)) (401); check them with GET /api/agents/\(agentID)/targets/\(target)/media")
            tellViewers("the camera refused the credentials set for it; retrying")
        }
        handle(.response(id, response))
    }

    /// Later on the loop: an RTSP viewer told closes, and its leaving must not
    /// run inside the action being performed.
    private func tellViewers(_ message: String) {
        eventLoop.execute { [self] in
            for output in outputs.values { output.pullProblem(message) }
        }
    }

    func received(_ frame: RTSPInterleavedFrame, on id: IngestStateMachine.ConnectionID) {
        guard channel?.id == id, let track = routes[frame.channel], depacketizers.indices.contains(track) else { return }
        frames.removeAll(keepingCapacity: true)
        do {
            try depacketizers[track].push(frame.payload, into: &frames)
        } catch {
            ServerLog.debug("streampoint", "\(label): dropped an RTP packet: \(error)")
            return
        }
        guard !frames.isEmpty else { return }
        let tracks = fanout.tracks
        let version = depacketizers[track].parameterSetsVersion
        if tracks.indices.contains(track), publishedParameterSets.indices.contains(track),
           version != publishedParameterSets[track] {
            publishedParameterSets[track] = version
            let updated = depacketizers[track].updated(tracks[track])
            if Self.isMaterialChange(from: tracks[track], to: updated) {
                var changed = tracks
                changed[track] = updated
                for viewer in fanout.setTracks(changed) { outputs[viewer]?.mediaAvailable() }
            }
        }
        var woken: Set<ViewerID> = []
        let arrivedAt = NIODeadline.now().uptimeNanoseconds
        for frame in frames {
            handle(.frameReceived(id))
            for viewer in fanout.ingest(frame, arrivedAt: arrivedAt) { woken.insert(viewer) }
        }
        for viewer in woken { outputs[viewer]?.mediaAvailable() }
    }

    func closed(_ id: IngestStateMachine.ConnectionID, reason: String) {
        guard let current = channel, current.id == id else { return }
        channel = nil
        handle(.tunnelClosed(id, reason: reason))
    }
}
