import CamProtocol

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

    /// The report's counters when two machines keep them (the core's links, the tunnel table).
    static func + (a: AgentStats, b: AgentStats) -> AgentStats {
        var sum = AgentStats()
        sum.tunnelsRequested = a.tunnelsRequested + b.tunnelsRequested
        sum.tunnelsEstablished = a.tunnelsEstablished + b.tunnelsEstablished
        sum.tunnelsFailed = a.tunnelsFailed + b.tunnelsFailed
        sum.tunnelsRefused = a.tunnelsRefused + b.tunnelsRefused
        sum.bytesToStreampoint = a.bytesToStreampoint + b.bytesToStreampoint
        sum.bytesFromStreampoint = a.bytesFromStreampoint + b.bytesFromStreampoint
        sum.protocolErrors = a.protocolErrors + b.protocolErrors
        sum.controlConnectFailures = a.controlConnectFailures + b.controlConnectFailures
        sum.targetConnectFailures = a.targetConnectFailures + b.targetConnectFailures
        sum.bufferOverruns = a.bufferOverruns + b.bufferOverruns
        sum.endpointChanges = a.endpointChanges + b.endpointChanges
        sum.streampointChanges = a.streampointChanges + b.streampointChanges
        return sum
    }
}
