import Hummingbird
import NIOCore

/// The request context of every route on the endpoint's HTTP listener: the
/// authenticated caller (set by APIAuthMiddleware) and the peer's address.
/// The console adds its session here.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set for every request under /api/ that reached a route.
    public var principal: APIPrincipal?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// A route's caller; only routes under /api/ have one.
    public func requirePrincipal() throws -> APIPrincipal {
        guard let principal else { throw APIError(.unauthorized, "authentication required") }
        return principal
    }

    /// The peer as text for logs and views, e.g. `127.0.0.1:51234`.
    public var remoteDescription: String { Self.describe(remoteAddress) }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        if let ip = address.ipAddress, let port = address.port { return "\(ip):\(port)" }
        return "\(address)"
    }
}
