import CamNIO
import NIOCore

/// The media streams of every registered camera target, on the registry's
/// event loop: at most one pull per agent and target, whatever the viewers.
public final class MediaStreamTable {
    private unowned let registry: StreampointRegistry
    private var streams: [String: MediaStream] = [:]
    /// The endpoint's camera media settings (paths, credentials) by key; the
    /// last set received stays in force while the channel is down.
    private var cameraMedia: [String: CameraMediaTarget] = [:]
    /// How long a pull outlives its last viewer (seconds).
    let linger: Double

    init(registry: StreampointRegistry, linger: Double) {
        self.registry = registry
        self.linger = linger
    }

    private static func key(_ agentID: String, _ target: String) -> String { agentID + "\u{0}" + target }

    /// The stream of a registered agent's announced target, made on first use; nil otherwise.
    func stream(agentID: String, target: String) -> MediaStream? {
        registry.eventLoop.assertInEventLoop()
        let key = Self.key(agentID, target)
        if let existing = streams[key] { return existing }
        guard let url = ingestURL(agentID: agentID, target: target) else { return nil }
        let stream = MediaStream(agentID: agentID, target: target, url: url,
                                 linger: linger, queueBytes: registry.config.viewerQueueBytes, registry: registry)
        stream.onIdle = { [weak self] idle in
            guard let self, self.streams[key] === idle else { return }
            self.streams[key] = nil
        }
        streams[key] = stream
        return stream
    }

    /// The URL a pull of this announced target asks the camera for (through the tunnel).
    private func ingestURL(agentID: String, target: String) -> String? {
        guard let tunnelTarget = registry.announcedTarget(agentID: agentID, name: target) else { return nil }
        return MediaPullURL.make(target: tunnelTarget, registryPath: cameraMedia[Self.key(agentID, target)]?.path)
    }

    /// The camera's credentials and path from the endpoint, if it set any.
    func cameraMedia(agentID: String, target: String) -> CameraMediaTarget? {
        cameraMedia[Self.key(agentID, target)]
    }

    /// A new set from the streampoint channel. New credentials are read by the
    /// next attempt of each pull; a pull whose URL changed ends (its viewers
    /// reconnect to a new one), since its session description may differ.
    func applyCameraMedia(_ targets: [CameraMediaTarget]) {
        registry.eventLoop.assertInEventLoop()
        cameraMedia = Dictionary(targets.map { (Self.key($0.agentID, $0.target), $0) }, uniquingKeysWith: { first, _ in first })
        for (key, stream) in streams {
            guard let url = ingestURL(agentID: stream.agentID, target: stream.target), url != stream.url else { continue }
            streams[key] = nil
            ServerLog.info("streampoint", "\(stream.label): the camera's RTSP path changed; ending the pull, its viewers reconnect")
            stream.end(reason: "the camera's RTSP path changed")
        }
    }

    /// The agent's session ended (it left, was replaced or revoked): its viewers go.
    func agentGone(_ agentID: String, reason: String) {
        for stream in streams.values where stream.agentID == agentID {
            stream.end(reason: reason)
        }
    }

    var count: Int { streams.count }
    var pullsPlaying: Int { streams.values.filter(\.isPlaying).count }
    var viewers: Int { streams.values.reduce(0) { $0 + $1.viewerCount } }
}
