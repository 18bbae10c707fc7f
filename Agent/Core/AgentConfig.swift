import CamProtocol

/// A server the agent dials: `http://host[:port][/]`. TLS (`https`) arrives with
/// the security work; until then the scheme is refused rather than silently downgraded.
public struct ServerAddress: Equatable, Sendable {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port`, bracketing IPv6 literals.
    public var display: String {
        var hasColon = false
        for byte in host.utf8 where byte == 0x3A { hasColon = true }
        return hasColon ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public enum LogLevel: Int, Comparable, Sendable {
    case debug = 0, info, warn, error

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public var label: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }
}

/// Everything `camagent --config FILE` reads. See docs/CONFIG.md for the file format.
public struct AgentConfig: Sendable {
    public var agentID: String
    public var deviceKey: [UInt8]
    /// The first is the main endpoint; the rest are backups, tried in order.
    public var endpoints: [ServerAddress]
    /// The only local services a tunnel may reach.
    public var targets: [TunnelTarget]
    public var logLevel: LogLevel = .info
    public var maxTunnels = 8
    /// Reconnect backoff bounds, milliseconds.
    public var backoffInitialMs: Int64 = 1000
    public var backoffMaxMs: Int64 = 60000
    /// Used until the endpoint's AUTH_OK names its own values.
    public var heartbeatSeconds: Int64 = 10
    public var peerTimeoutSeconds: Int64 = 30

    public init(agentID: String, deviceKey: [UInt8], endpoints: [ServerAddress], targets: [TunnelTarget]) {
        self.agentID = agentID
        self.deviceKey = deviceKey
        self.endpoints = endpoints
        self.targets = targets
    }

    public func allowsTarget(host: String, port: UInt16) -> Bool {
        for target in targets where target.host == host && target.port == port { return true }
        return false
    }
}
