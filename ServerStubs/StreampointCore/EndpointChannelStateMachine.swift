import CamNIO
import CamProtocol
import Foundation

/// The streampoint's side of the streampoint channel (docs/PROTOCOL.md §7.4, §15), without I/O:
/// which endpoint to dial, how long to back off, when load is due, and what an
/// endpoint's frame means. Time (`now`, monotonic seconds) and jitter come in;
/// actions go out to EndpointChannelClient, which does the WebSocket I/O.
public struct EndpointChannelStateMachine {
    public struct Configuration {
        /// WebSocket URLs of the channel, main endpoint first, then backups.
        public var endpoints: [String]
        public var streampointID: String
        public var loadInterval: Double = 5
        public var firstBackoff: Double = 1
        public var maxBackoff: Double = 30

        public init(endpoints: [String], streampointID: String) {
            self.endpoints = endpoints
            self.streampointID = streampointID
        }
    }

    public enum Action: Equatable {
        case connect(url: String)
        case send(String)
        /// Send a load frame built from the streampoint's current figures.
        case sendLoad
        /// Replace the revoked set: close what belongs to these agents and refuse their REGISTER.
        case applyRevoked(Set<String>)
        /// Replace the viewer-token keys (newest first) the viewer outputs verify with.
        case applyViewerKeys([ViewerTokenKey])
        /// Replace the camera media settings (RTSP paths, credentials) the pulls use.
        case applyCameraMedia([CameraMediaTarget])
        /// Close the channel with this WebSocket close code (1007: a frame that is not what the spec says).
        case close(code: UInt16, reason: String)
        /// Dial again after this many seconds.
        case wait(seconds: Double)
        case logDebug(String)
        case logInfo(String)
        case logWarn(String)
    }

    enum State: Equatable {
        case idle
        case connecting(index: Int)
        case connected(index: Int, nextLoadAt: Double)
        case waiting(index: Int)
    }

    public let configuration: Configuration
    private(set) var state: State = .idle
    /// Dials that failed or sessions that ended since the last successful connection.
    private(set) var failures = 0
    /// Kept while the channel is down: known revocations stay enforced (fail closed).
    public private(set) var revoked: Set<String> = []
    private(set) var revokedReceived = false
    /// Ids of the viewer-token keys last received (the keys themselves live in ViewerTokenVerifier).
    public private(set) var viewerKeyIDs: [UInt32] = []
    /// The parts of a cameraMedia set received so far, until its last part.
    private var cameraMediaParts: (next: Int, of: Int, targets: [CameraMediaTarget])?
    /// How many targets the last complete set held (the settings themselves live in CameraMediaBook).
    public private(set) var cameraMediaCount: Int?

    public init(configuration: Configuration) {
        precondition(!configuration.endpoints.isEmpty, "the channel needs at least one endpoint")
        self.configuration = configuration
    }

    public var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    public mutating func start() -> [Action] {
        guard state == .idle else { return [] }
        state = .connecting(index: 0)
        return [.connect(url: configuration.endpoints[0])]
    }

    /// The WebSocket upgrade succeeded.
    public mutating func connected(now: Double) -> [Action] {
        guard case .connecting(let index) = state else { return [] }
        state = .connected(index: index, nextLoadAt: now + configuration.loadInterval)
        failures = 0
        return [
            .logInfo("channel to endpoint \(configuration.endpoints[index]) up"),
            .send(StreampointChannelFrame.hello(version: StreampointChannelFrame.version, streampoint: configuration.streampointID).text),
            .sendLoad,
        ]
    }

    /// When the driver should call `tick` next; nil when no timer is due.
    public func nextLoadAt() -> Double? {
        if case .connected(_, let at) = state { return at }
        return nil
    }

    public mutating func tick(now: Double) -> [Action] {
        guard case .connected(let index, let at) = state, now >= at else { return [] }
        // From `now`, not `at`: a stalled driver sends one load, not a burst to catch up.
        state = .connected(index: index, nextLoadAt: now + configuration.loadInterval)
        return [.sendLoad]
    }

    public mutating func received(_ text: String) -> [Action] {
        guard isConnected else { return [] }
        let frame: StreampointChannelFrame
        do {
            frame = try StreampointChannelFrame.parse(text)
        } catch {
            return [.logWarn("malformed channel frame from the endpoint: \(error.description); closing"),
                    .close(code: 1007, reason: Self.closeReason(error.description))]
        }
        switch frame {
        case .revoked(let set):
            let added = set.subtracting(revoked).count
            let removed = revoked.subtracting(set).count
            let first = !revokedReceived
            revoked = set
            revokedReceived = true
            var actions: [Action] = []
            if first || added > 0 || removed > 0 {
                actions.append(.logInfo("revoked set from the endpoint: \(set.count) agent(s), \(added) added, \(removed) lifted"))
            }
            actions.append(.applyRevoked(set))
            return actions
        case .viewerKeys(let keys):
            var actions: [Action] = []
            if keys.map(\.id) != viewerKeyIDs {
                let ids = keys.map { String($0.id) }.joined(separator: ", ")
                actions.append(.logInfo("viewer-token keys from the endpoint: \(keys.isEmpty ? "none" : ids) (newest first)"))
            }
            viewerKeyIDs = keys.map(\.id)
            actions.append(.applyViewerKeys(keys))
            return actions
        case .cameraMedia(let part):
            return receivedCameraMedia(part)
        case .unknown(let type):
            return [.logDebug("ignoring channel frame of unknown type \(LogText.peer(type))")]
        case .hello, .load:
            return [.logDebug("ignoring a streampoint's frame sent by the endpoint")]
        }
    }

    /// Parts come in order, 1 to `parts`, with nothing between them; the last
    /// one applies the set. Logs counts only: the frames carry passwords.
    private mutating func receivedCameraMedia(_ part: CameraMediaPart) -> [Action] {
        var collected: [CameraMediaTarget]
        if part.part == 1 {
            collected = []
        } else if let pending = cameraMediaParts, pending.next == part.part, pending.of == part.parts {
            collected = pending.targets
        } else {
            cameraMediaParts = nil
            let reason = "cameraMedia part \(part.part) of \(part.parts) out of order"
            return [.logWarn("malformed channel frame from the endpoint: \(reason); closing"), .close(code: 1007, reason: reason)]
        }
        collected += part.targets
        guard part.part == part.parts else {
            cameraMediaParts = (part.part + 1, part.parts, collected)
            return []
        }
        cameraMediaParts = nil
        guard Set(collected.map { $0.agentID + "/" + $0.target }).count == collected.count else {
            let reason = "cameraMedia names a camera target twice"
            return [.logWarn("malformed channel frame from the endpoint: \(reason); closing"), .close(code: 1007, reason: reason)]
        }
        cameraMediaCount = collected.count
        let withCredentials = collected.filter { $0.credentials != nil }.count
        return [.logInfo("camera media settings from the endpoint: \(collected.count) target(s), \(withCredentials) with credentials"),
                .applyCameraMedia(collected)]
    }

    /// A close frame's reason must fit its 125-byte payload with the code.
    static func closeReason(_ text: String) -> String {
        String(decoding: Array(text.utf8.prefix(120)), as: UTF8.self)
    }

    /// The dial failed, or an established channel ended. `jitter` is uniform in 0..<1.
    public mutating func disconnected(reason: String, jitter: Double) -> [Action] {
        let index: Int
        let wasConnected: Bool
        switch state {
        case .connecting(let i):
            index = i
            wasConnected = false
        case .connected(let i, _):
            index = i
            wasConnected = true
        case .idle, .waiting:
            return []
        }
        failures += 1
        cameraMediaParts = nil
        // A channel that was up starts over at the main endpoint; a failed dial moves on down the list.
        let next = wasConnected ? 0 : (index + 1) % configuration.endpoints.count
        state = .waiting(index: next)
        let delay = backoff(jitter: jitter)
        let what = wasConnected ? "channel to endpoint \(configuration.endpoints[index]) closed" :
            "cannot open the channel to endpoint \(configuration.endpoints[index])"
        return [.logWarn("\(what): \(reason); keeping \(revoked.count) revoked agent(s); next try \(configuration.endpoints[next]) in \(String(format: "%.1f", delay)) s"),
                .wait(seconds: delay)]
    }

    /// The wait asked for by `disconnected` is over.
    public mutating func retry() -> [Action] {
        guard case .waiting(let index) = state else { return [] }
        state = .connecting(index: index)
        return [.connect(url: configuration.endpoints[index])]
    }

    /// 1 s, 2 s, 4 s … capped at 30 s, each spread by ±25 % so that streampoints
    /// restarted together do not dial together.
    func backoff(jitter: Double) -> Double {
        let exponent = min(max(failures - 1, 0), 16)
        let base = min(configuration.maxBackoff, configuration.firstBackoff * Double(1 << exponent))
        let spread = base * (0.75 + 0.5 * min(max(jitter, 0), 1))
        return min(configuration.maxBackoff, max(configuration.firstBackoff * 0.75, spread))
    }
}
