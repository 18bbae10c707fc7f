import CamProtocol

/// One tunnel from TUNNEL_OPEN until its bytes start flowing: connect to the
/// local target, then open a data link to the streampoint and bind it. Once
/// splicing, the runtime owns the two sockets and reports when they are done.
struct Tunnel: Sendable {
    enum Phase: Equatable, Sendable {
        case connectingTarget
        case connectingData
        case binding
        case splicing
    }

    /// The agent's own id for the tunnel (its LinkIDs); usually `remoteID`.
    let id: UInt32
    /// The streampoint's id, used in TUNNEL_BIND and TUNNEL_OPEN_FAILED.
    let remoteID: UInt32
    let target: ServerAddress
    let streampoint: ServerAddress
    /// The control link that asked for it (where TUNNEL_OPEN_FAILED goes).
    let slot: StreampointSlot
    let bindToken: [UInt8]
    var phase = Phase.connectingTarget
    /// Setup must finish by then; a splicing tunnel has no deadline.
    let setupDeadline: Int64
    var reader = LinkReader(rawAfterHelloAck: true)
    /// Set when the agent switched away from this tunnel's streampoint: the
    /// tunnel may finish until then, and is closed at that time.
    var closeAt: Int64?
}

/// Connection counters reported to the operator.
public struct AgentStats: Equatable, Sendable {
    public var tunnelsRequested: UInt64 = 0
    public var tunnelsEstablished: UInt64 = 0
    public var tunnelsFailed: UInt64 = 0
    /// Requests for a host or port outside the config's targets.
    public var tunnelsRefused: UInt64 = 0
    public var bytesToStreampoint: UInt64 = 0
    public var bytesFromStreampoint: UInt64 = 0
    public var protocolErrors: UInt64 = 0
    public var controlConnectFailures: UInt64 = 0
    public var targetConnectFailures: UInt64 = 0
    /// Tunnels refused because the tunnel limit was reached.
    public var bufferOverruns: UInt64 = 0
    public var endpointChanges: UInt64 = 0
    public var streampointChanges: UInt64 = 0

    /// Every counter, numbered for AGENT_STATS.
    public var numbered: [(UInt8, UInt64)] {
        var pairs: [(UInt8, UInt64)] = []
        for counter in StatCounter.allCases { pairs.append((counter.rawValue, value(counter))) }
        return pairs
    }

    public func value(_ counter: StatCounter) -> UInt64 {
        switch counter {
        case .tunnelsRequested: return tunnelsRequested
        case .tunnelsEstablished: return tunnelsEstablished
        case .tunnelsFailed: return tunnelsFailed
        case .tunnelsRefused: return tunnelsRefused
        case .bytesToStreampoint: return bytesToStreampoint
        case .bytesFromStreampoint: return bytesFromStreampoint
        case .protocolErrors: return protocolErrors
        case .controlConnectFailures: return controlConnectFailures
        case .targetConnectFailures: return targetConnectFailures
        case .bufferOverruns: return bufferOverruns
        case .endpointChanges: return endpointChanges
        case .streampointChanges: return streampointChanges
        }
    }

    public init() {}
}
