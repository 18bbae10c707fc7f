import CamProtocol

/// Something the agent dials. `tls` servers must present a certificate that
/// chains to the config's CA and names `host`.
public struct ServerAddress: Equatable, Sendable {
    public var host: String
    public var port: UInt16
    public var tls: Bool
    /// The numeric address this server last answered on (kept in the state
    /// file), tried when DNS fails or names a dead address. Not part of `==`.
    public var knownAddress: String?
    /// Try `knownAddress` before the DNS answer: alternated between attempts so
    /// that neither a stale DNS answer nor a stale known address strands the agent.
    public var knownAddressFirst = false

    public init(host: String, port: UInt16, tls: Bool = false, knownAddress: String? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
        self.knownAddress = knownAddress
    }

    public static func == (a: ServerAddress, b: ServerAddress) -> Bool {
        a.host == b.host && a.port == b.port && a.tls == b.tls
    }

    /// `https://host:port` or `http://host:port`, as in the config file.
    public var url: String { (tls ? "https://" : "http://") + display }

    /// `host:port`, bracketing IPv6 literals.
    public var display: String {
        var hasColon = false
        for byte in host.utf8 where byte == 0x3A { hasColon = true }
        return hasColon ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// `host:port, host:port` for the log: a hand-written join (the generic
    /// `joined(separator:)` specialisation costs about 1 KB on armv5).
    public static func displayList(_ addresses: [ServerAddress]) -> String {
        var text = ""
        for index in 0..<addresses.count {
            if index > 0 { text += ", " }
            text += addresses[index].display
        }
        return text
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
    /// While on a backup endpoint, how often to check whether the main one is back.
    /// The endpoint may push its own value (CONFIG_PUSH).
    public var mainEndpointRecheckMs: Int64 = 300_000
    /// After a streampoint switch, tunnels still open on the old streampoint are
    /// closed this long after the new one registered.
    public var switchGraceMs: Int64 = 30_000
    /// After a cold boot (system up under a minute), the first dial waits a
    /// delay in [0, bootJitterMs), spread by the device seed, so a street of
    /// cameras powered on together does not dial in one instant. 0: off.
    public var bootJitterMs: Int64 = 3000
    /// Run (no shell; split at spaces) when the endpoint orders a reboot.
    public var rebootCommand: String?
    /// Where the resolver reads its name servers, and the names it answers before DNS.
    public var resolvConfFile = "/etc/resolv.conf"
    public var hostsFile = "/etc/hosts"

    public init(agentID: String, deviceKey: [UInt8], endpoints: [ServerAddress], targets: [TunnelTarget]) {
        self.init(identity: AgentIdentity(agentID: agentID, deviceKey: deviceKey), endpoints: endpoints, targets: targets)
    }

    public init(identity: AgentIdentity?, endpoints: [ServerAddress], targets: [TunnelTarget]) {
        self.identity = identity
        self.endpoints = endpoints
        self.targets = targets
    }

    /// Spreads this device's reconnects (Backoff.firstDelayAfterLossMs):
    /// FNV-1a of the agent id, or of the serial for a unit not yet activated.
    public var deviceSeed: UInt64 {
        let name = identity?.agentID ?? factory?.serial ?? ""
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    public func allowsTarget(host: String, port: UInt16) -> Bool {
        for target in targets where target.host == host && target.port == port { return true }
        return false
    }
}
