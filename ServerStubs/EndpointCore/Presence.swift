/// An agent online at an endpoint, as the shared registry records it: how the
/// clone check and activation see sessions held by other endpoints.
public struct PresenceRecord: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// An authenticated session; renewed while it lasts.
        case session
        /// Just activated there and about to log in; not renewed.
        case activation
    }

    public var agentID: String
    public var endpointID: String
    /// The address the agent came from (host only), to tell a reconnect from a clone.
    public var remoteHost: String
    public var kind: Kind
    /// Unix seconds; after it the row means nothing (its endpoint stopped renewing it).
    public var leaseUntil: Int64

    public init(agentID: String, endpointID: String, remoteHost: String, kind: Kind, leaseUntil: Int64) {
        self.agentID = agentID
        self.endpointID = endpointID
        self.remoteHost = remoteHost
        self.kind = kind
        self.leaseUntil = leaseUntil
    }

    public func isLive(now: Int64) -> Bool { leaseUntil >= now }

    /// Session leases last this long; an endpoint renews its rows every `renewSeconds`.
    /// A killed endpoint's agents stop counting as online after at most this.
    public static let sessionLeaseSeconds: Int64 = 30
    public static let renewSeconds: Int64 = 10
    /// An activation holds the identity until the unit logs in with its new key.
    public static let activationLeaseSeconds: Int64 = 20
}
