import CamProtocol

/// Something the agent dials. `tls` servers must present a certificate that
/// chains to the config's CA and names `host`.
public struct ServerAddress: Equatable, Sendable {
    public var host: String
    public var port: UInt16
    public var tls: Bool

    public init(host: String, port: UInt16, tls: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
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

/// Who the agent is to its endpoint: set in the config (lab units) or issued
/// at factory activation and kept in the state file.
public struct AgentIdentity: Equatable, Sendable {
    public var agentID: String
    public var deviceKey: [UInt8]

    public init(agentID: String, deviceKey: [UInt8]) {
        self.agentID = agentID
        self.deviceKey = deviceKey
    }
}

/// What a factory-fresh unit presents to activate.
public struct FactoryIdentity: Equatable, Sendable {
    public var serial: String
    public var mac: String
    public var model: String
    public var firmware: String
    public var activationSecret: [UInt8]

    public init(serial: String, mac: String, model: String, firmware: String, activationSecret: [UInt8]) {
        self.serial = serial
        self.mac = mac
        self.model = model
        self.firmware = firmware
        self.activationSecret = activationSecret
    }
}

/// Everything `camagent --config FILE` reads. See docs/CONFIG.md for the file format.
public struct AgentConfig: Sendable {
    /// Fixed in the config; nil for units that activate.
    public var identity: AgentIdentity?
    public var factory: FactoryIdentity?
    /// Where an activated identity is kept (written atomically).
    public var stateFile: String?
    /// The first is the main endpoint; the rest are backups, tried in order.
    public var endpoints: [ServerAddress]
    /// The only local services a tunnel may reach.
    public var targets: [TunnelTarget]
    /// PEM bundle the servers' certificates must chain to.
    public var caFile: String?
    /// Lab use only: permits plain-TCP endpoints and streampoints.
    public var allowPlaintext = false
    public var logLevel: LogLevel = .info
    public var maxTunnels = 8
    /// Reconnect backoff bounds, milliseconds.
    public var backoffInitialMs: Int64 = 1000
    public var backoffMaxMs: Int64 = 60000
    /// Used until the endpoint's AUTH_OK names its own values.
    public var heartbeatSeconds: Int64 = 10
    public var peerTimeoutSeconds: Int64 = 30

    public init(agentID: String, deviceKey: [UInt8], endpoints: [ServerAddress], targets: [TunnelTarget]) {
        self.init(identity: AgentIdentity(agentID: agentID, deviceKey: deviceKey), endpoints: endpoints, targets: targets)
    }

    public init(identity: AgentIdentity?, endpoints: [ServerAddress], targets: [TunnelTarget]) {
        self.identity = identity
        self.endpoints = endpoints
        self.targets = targets
    }

    public func allowsTarget(host: String, port: UInt16) -> Bool {
        for target in targets where target.host == host && target.port == port { return true }
        return false
    }
}

/// The state file: the identity activation produced, in the config's own
/// `key = value` form so an operator can read it (it holds the device key:
/// mode 0600, never logged).
public enum StateFile {
    public static func render(_ identity: AgentIdentity) -> String {
        "# camagent state: written by the agent at activation; do not edit\n"
            + "agent_id = \(identity.agentID)\n"
            + "device_key = \(Hex.encode(identity.deviceKey))\n"
    }

    /// nil if the text is not a complete, valid state file.
    public static func parse(_ text: String) -> AgentIdentity? {
        var agentID: String?
        var key: [UInt8]?
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = ConfigParser.stripComment(trimmed(String(rawLine)))
            guard !line.isEmpty else { continue }
            guard let equals = line.firstIndex(of: "=") else { return nil }
            let name = trimmed(String(line[..<equals]))
            let value = trimmed(String(line[line.index(after: equals)...]))
            switch name {
            case "agent_id" where isValidAgentID(value): agentID = value
            case "device_key": key = Hex.decode(value)
            default: return nil
            }
        }
        guard let agentID, let key, ConfigParser.secretSizes.contains(key.count) else { return nil }
        return AgentIdentity(agentID: agentID, deviceKey: key)
    }
}
