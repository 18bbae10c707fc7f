import CamNIO
import Foundation
import NIOConcurrencyHelpers

/// The streampoints connected to this endpoint over the channel, their latest
/// load, and what every one of them is told: the revoked set, the
/// camera media settings and the viewer-token keys (the newest of which also signs the tokens issued here). Called from the
/// channel handlers (async) and from the endpoint's event loop (the registry
/// watch publishes the revoked set), so it keeps its state under a lock.
public final class StreampointHub: @unchecked Sendable {
    /// One connected streampoint as GET /api/streampoints shows it.
    public struct Connection: Sendable, Equatable {
        /// The token's name (`token add --name`).
        public var name: String
        /// What its hello said (its --id); nil until the hello.
        public var id: String?
        public var remoteAddress: String
        public var connectedAt: String
        public var load: StreampointLoad?
        public var loadReceivedAt: String?
    }

    private struct State {
        var revoked: [String]? = nil
        var viewerKeys: [ViewerTokenKey]? = nil
        var cameraMedia: [CameraMediaTarget]? = nil
        var connections: [Int: Connection] = [:]
        var subscribers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextKey = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Sets the revoked set; channels hear of it only if it changed.
    public func publishRevoked(_ agents: [String]) {
        let sorted = agents.sorted()
        let subscribers = state.withLockedValue { state -> [AsyncStream<Void>.Continuation] in
            guard state.revoked != sorted else { return [] }
            state.revoked = sorted
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield() }
    }

    /// Sets the viewer-token keys, newest first; channels hear of them only if they changed.
    public func publishViewerKeys(_ keys: [ViewerTokenKey]) {
        let subscribers = state.withLockedValue { state -> [AsyncStream<Void>.Continuation] in
            guard state.viewerKeys != keys else { return [] }
            state.viewerKeys = keys
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield() }
    }

    /// Sets the camera media settings (paths, credentials) of every camera
    /// target, sorted; channels hear of them only if they changed. Every
    /// streampoint gets the whole set: after a failover an agent registers at
    /// its backup, which must be able to pull it at once.
    public func publishCameraMedia(_ targets: [CameraMediaTarget]) {
        let sorted = targets.sorted { ($0.agentID, $0.target) < ($1.agentID, $1.target) }
        let subscribers = state.withLockedValue { state -> [AsyncStream<Void>.Continuation] in
            guard state.cameraMedia != sorted else { return [] }
            state.cameraMedia = sorted
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield() }
    }

    /// Nil until the registry was read.
    public var cameraMedia: [CameraMediaTarget]? { state.withLockedValue { $0.cameraMedia } }

    public var revoked: [String]? { state.withLockedValue { $0.revoked } }
    /// Newest first; nil until the registry was read.
    public var viewerKeys: [ViewerTokenKey]? { state.withLockedValue { $0.viewerKeys } }

    /// The frames a channel is owed now: the revoked set, the viewer keys and
    /// the camera media settings, each once known. A channel's writer sends
    /// those that differ from what it sent last.
    public var currentFrames: (revoked: [String]?, viewerKeys: [ViewerTokenKey]?, cameraMedia: [CameraMediaTarget]?) {
        state.withLockedValue { ($0.revoked, $0.viewerKeys, $0.cameraMedia) }
    }

    /// A channel that said hello: `updates` fires at once, and after every
    /// change; the channel then reads `currentFrames`. Only the newest signal is
    /// kept, so a slow channel skips straight to the current state. `end` removes it.
    public func connect(name: String, id: String, remoteAddress: String) -> (key: Int, updates: AsyncStream<Void>) {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let key = state.withLockedValue { state -> Int in
            let key = state.nextKey
            state.nextKey += 1
            state.connections[key] = Connection(name: name, id: id, remoteAddress: remoteAddress,
                                                connectedAt: isoTimestamp(), load: nil, loadReceivedAt: nil)
            state.subscribers[key] = continuation
            continuation.yield()
            return key
        }
        return (key, stream)
    }

    public func recordLoad(_ load: StreampointLoad, key: Int) {
        state.withLockedValue { state in
            state.connections[key]?.load = load
            state.connections[key]?.loadReceivedAt = isoTimestamp()
        }
    }

    public func end(key: Int) {
        let continuation = state.withLockedValue { state -> AsyncStream<Void>.Continuation? in
            state.connections[key] = nil
            return state.subscribers.removeValue(forKey: key)
        }
        continuation?.finish()
    }

    /// Ends every channel (the endpoint is stopping): each closes with 1001.
    public func closeAll() {
        let continuations = state.withLockedValue { state in Array(state.subscribers.values) }
        for continuation in continuations { continuation.finish() }
    }

    /// Connected streampoints, oldest first.
    public var connections: [Connection] {
        state.withLockedValue { state in state.connections.sorted { $0.key < $1.key }.map(\.value) }
    }
}
