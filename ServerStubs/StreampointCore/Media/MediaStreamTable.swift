import CamNIO
import NIOCore

/// The media streams of every registered camera target, on the registry's
/// event loop: at most one pull per agent and target, whatever the viewers.
public final class MediaStreamTable {
    private unowned let registry: StreampointRegistry
    private var streams: [String: MediaStream] = [:]
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
        guard let tunnelTarget = registry.announcedTarget(agentID: agentID, name: target) else { return nil }
        let stream = MediaStream(agentID: agentID, target: target, url: MediaPullURL.make(target: tunnelTarget),
                                 linger: linger, queueBytes: registry.config.viewerQueueBytes, registry: registry)
        stream.onIdle = { [weak self] idle in
            guard let self, self.streams[key] === idle else { return }
            self.streams[key] = nil
        }
        streams[key] = stream
        return stream
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
