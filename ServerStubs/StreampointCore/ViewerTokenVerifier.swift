import CamNIO
import Foundation

/// The streampoint's check of viewer tokens (docs/PROTOCOL.md §16), for every
/// viewer output (RTSP at DESCRIBE, WebSocket, player page). Holds the keys
/// the endpoint sent down the streampoint channel; they stay in force while
/// the channel is down, so tokens keep working offline. Before any key has
/// arrived every token is refused (unknownKey): fail closed.
///
/// Thread-safe: outputs on any event loop call `verify` while the channel
/// client replaces the keys.
public final class ViewerTokenVerifier: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [UInt32: [UInt8]] = [:]
    private var newestFirst: [UInt32] = []

    public init(keys: [ViewerTokenKey] = []) {
        replaceKeys(keys)
    }

    /// `token`: the raw text of `?token=` (or of `Authorization: Bearer`), nil or
    /// empty when the request had none. `agentID`/`target`: what the request's
    /// URL names. `now`: Unix seconds (wall clock: expiries come from the endpoint's).
    public func verify(token: String?, agentID: String, target: String, now: UInt64) -> Result<ViewerToken, ViewerToken.Refusal> {
        ViewerToken.verify(token, agentID: agentID, target: target, now: now) { id in
            lock.lock()
            defer { lock.unlock() }
            return keys[id]
        }
    }

    /// The same with the current wall clock.
    public func verify(token: String?, agentID: String, target: String) -> Result<ViewerToken, ViewerToken.Refusal> {
        verify(token: token, agentID: agentID, target: target, now: UInt64(max(0, Date().timeIntervalSince1970)))
    }

    /// The whole set the endpoint sent; keys it left out are no longer accepted.
    public func replaceKeys(_ new: [ViewerTokenKey]) {
        lock.lock()
        defer { lock.unlock() }
        keys = Dictionary(new.map { ($0.id, $0.secret) }, uniquingKeysWith: { first, _ in first })
        newestFirst = new.map(\.id)
    }

    /// Key ids accepted now, newest first (for logs and tests; never the secrets).
    public var keyIDs: [UInt32] {
        lock.lock()
        defer { lock.unlock() }
        return newestFirst
    }
}
