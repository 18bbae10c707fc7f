import ServerMetrics

/// Whether a viewer that connected to a target listener gets a tunnel: the
/// listener's session must still be the agent's current one, announced
/// (STREAM_REGISTERED sent: never TUNNEL_OPEN before it), and under --max-tunnels.
enum ViewerAdmission: Equatable {
    case admit
    case refuse(reason: String, isWarning: Bool, failure: MetricCatalog.TunnelFailure)

    struct Session {
        var sessionID: UInt64
        var isActive: Bool
        var isAnnounced: Bool
    }

    static func decide(listenerSessionID: UInt64, current: Session?, tunnelsInUse: Int, maxTunnels: Int) -> ViewerAdmission {
        guard let current, current.sessionID == listenerSessionID, current.isActive else {
            return .refuse(reason: "the agent is not connected", isWarning: false, failure: .agentOffline)
        }
        guard current.isAnnounced else {
            return .refuse(reason: "the agent is still registering", isWarning: false, failure: .agentRegistering)
        }
        guard tunnelsInUse < maxTunnels else {
            return .refuse(reason: "\(tunnelsInUse) tunnels reached --max-tunnels \(maxTunnels)", isWarning: true, failure: .maxTunnels)
        }
        return .admit
    }
}
