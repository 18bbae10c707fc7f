/// Payload types of the management messages added for failover, commands and
/// reports (docs/PROTOCOL.md §4.4). Kept apart from Message.swift so the
/// handshake messages stay readable.

/// One streampoint the endpoint names: where it is and the ticket it accepts.
public struct StreampointOffer: Equatable, Sendable {
    public var streampointID: String
    public var host: String
    public var port: UInt16
    public var ticket: [UInt8]
    public var tls: Bool

    public init(streampointID: String, host: String, port: UInt16, ticket: [UInt8], tls: Bool) {
        self.streampointID = streampointID
        self.host = host
        self.port = port
        self.ticket = ticket
        self.tls = tls
    }

    func write(to w: inout ByteWriter) {
        w.string(streampointID)
        w.string(host)
        w.u16(port)
        w.blob(ticket)
        w.u8(tls ? StreampointFlags.tls : 0)
    }

    static func read(from r: inout ByteReader) throws(ProtocolError) -> StreampointOffer {
        let id = try r.string()
        let host = try r.host()
        let port = try r.u16()
        let ticket = try r.blob()
        let flags = try r.u8()
        return StreampointOffer(streampointID: id, host: host, port: port, ticket: ticket, tls: flags & StreampointFlags.tls != 0)
    }
}

/// An endpoint in a CONFIG_PUSH list.
public struct EndpointEntry: Equatable, Sendable {
    public var host: String
    public var port: UInt16
    public var tls: Bool

    public init(host: String, port: UInt16, tls: Bool) {
        self.host = host
        self.port = port
        self.tls = tls
    }
}

/// What a COMMAND asks the agent to do.
public enum CommandKind: UInt8, Sendable {
    /// Close every link and tunnel, stay offline `argument` seconds (0: the
    /// normal first reconnect delay), then reconnect.
    case disconnect = 1
    /// Run the config's `reboot_command`.
    case reboot = 2
    /// Forget the per-device identity and activate again.
    case reset = 3
    case unknown = 0xFF

    public init(wire: UInt8) { self = CommandKind(rawValue: wire) ?? .unknown }

    public var name: String {
        switch self {
        case .disconnect: return "disconnect"
        case .reboot: return "reboot"
        case .reset: return "reset"
        case .unknown: return "unknown"
        }
    }
}

/// Why an AGENT_STATS was sent.
public enum StatsReason: UInt8, Sendable {
    case requested = 1
    case periodic = 2
    case streampointChanged = 3
    case endpointChanged = 4
    case unknown = 0xFF

    public init(wire: UInt8) { self = StatsReason(rawValue: wire) ?? .unknown }

    public var name: String {
        switch self {
        case .requested: return "requested"
        case .periodic: return "periodic"
        case .streampointChanged: return "streampoint-changed"
        case .endpointChanged: return "endpoint-changed"
        case .unknown: return "unknown"
        }
    }
}

/// The state of the agent's streampoint link, as reported.
public enum StreampointLinkState: UInt8, Sendable {
    case none = 0
    case connecting = 1
    case registered = 2
    case unknown = 0xFF

    public init(wire: UInt8) { self = StreampointLinkState(rawValue: wire) ?? .unknown }

    public var name: String {
        switch self {
        case .none: return "none"
        case .connecting: return "connecting"
        case .registered: return "registered"
        case .unknown: return "unknown"
        }
    }
}

/// Counter numbers in AGENT_STATS. Stable: a receiver keeps numbers it does
/// not know under their number.
public enum StatCounter: UInt8, CaseIterable, Sendable {
    case tunnelsRequested = 1
    case tunnelsEstablished = 2
    case tunnelsFailed = 3
    case tunnelsRefused = 4
    case bytesToStreampoint = 5
    case bytesFromStreampoint = 6
    case protocolErrors = 7
    /// Control-link dials that failed (refused, timed out, TLS refused).
    case controlConnectFailures = 8
    /// Tunnel connects to a camera target that failed.
    case targetConnectFailures = 9
    /// Tunnels refused for a limit (too many tunnels, a peer not reading).
    case bufferOverruns = 10
    case endpointChanges = 11
    case streampointChanges = 12

    public var name: String {
        switch self {
        case .tunnelsRequested: return "tunnelsRequested"
        case .tunnelsEstablished: return "tunnelsEstablished"
        case .tunnelsFailed: return "tunnelsFailed"
        case .tunnelsRefused: return "tunnelsRefused"
        case .bytesToStreampoint: return "bytesToStreampoint"
        case .bytesFromStreampoint: return "bytesFromStreampoint"
        case .protocolErrors: return "protocolErrors"
        case .controlConnectFailures: return "controlConnectFailures"
        case .targetConnectFailures: return "targetConnectFailures"
        case .bufferOverruns: return "bufferOverruns"
        case .endpointChanges: return "endpointChanges"
        case .streampointChanges: return "streampointChanges"
        }
    }
}

/// The body of AGENT_STATS.
public struct StatsReport: Equatable, Sendable {
    public var reason: StatsReason
    public var uptimeSeconds: UInt32
    /// Seconds since the last change of endpoint or streampoint.
    public var secondsSinceChange: UInt32
    /// `host:port` of the endpoint this report travels to.
    public var endpoint: String
    /// Empty when the agent has no streampoint.
    public var streampointID: String
    public var streampointState: StreampointLinkState
    /// The agent's address on its endpoint link (its LAN address behind NAT).
    public var localAddress: String
    /// (counter number, value) pairs; at most `ProtocolConstants.maxCounters`.
    public var counters: [(UInt8, UInt64)]

    public init(reason: StatsReason, uptimeSeconds: UInt32, secondsSinceChange: UInt32, endpoint: String,
                streampointID: String, streampointState: StreampointLinkState, localAddress: String,
                counters: [(UInt8, UInt64)]) {
        self.reason = reason
        self.uptimeSeconds = uptimeSeconds
        self.secondsSinceChange = secondsSinceChange
        self.endpoint = endpoint
        self.streampointID = streampointID
        self.streampointState = streampointState
        self.localAddress = localAddress
        self.counters = counters
    }

    public func counter(_ counter: StatCounter) -> UInt64? {
        for (number, value) in counters where number == counter.rawValue { return value }
        return nil
    }

    public static func == (a: StatsReport, b: StatsReport) -> Bool {
        guard a.reason == b.reason, a.uptimeSeconds == b.uptimeSeconds, a.secondsSinceChange == b.secondsSinceChange,
              a.endpoint == b.endpoint, a.streampointID == b.streampointID, a.streampointState == b.streampointState,
              a.localAddress == b.localAddress, a.counters.count == b.counters.count else { return false }
        for index in 0..<a.counters.count where a.counters[index] != b.counters[index] { return false }
        return true
    }

    func write(to w: inout ByteWriter) {
        w.u8(reason.rawValue)
        w.u32(uptimeSeconds)
        w.u32(secondsSinceChange)
        w.string(endpoint)
        w.string(streampointID)
        w.u8(streampointState.rawValue)
        w.string(localAddress)
        w.u8(UInt8(truncatingIfNeeded: counters.count))
        for (number, value) in counters {
            w.u8(number)
            w.u64(value)
        }
    }

    static func read(from r: inout ByteReader) throws(ProtocolError) -> StatsReport {
        let reason = StatsReason(wire: try r.u8())
        let uptime = try r.u32()
        let sinceChange = try r.u32()
        let endpoint = try r.string()
        let streampointID = try r.string()
        let state = StreampointLinkState(wire: try r.u8())
        let local = try r.string()
        let count = Int(try r.u8())
        guard count <= ProtocolConstants.maxCounters else { throw .tooManyEntries("AGENT_STATS counters") }
        var counters: [(UInt8, UInt64)] = []
        for _ in 0..<count {
            let number = try r.u8()
            counters.append((number, try r.u64()))
        }
        return StatsReport(reason: reason, uptimeSeconds: uptime, secondsSinceChange: sinceChange, endpoint: endpoint,
                           streampointID: streampointID, streampointState: state, localAddress: local, counters: counters)
    }
}
