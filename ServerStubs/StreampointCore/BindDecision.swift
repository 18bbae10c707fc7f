import CamProtocol

/// What the registry knows about the tunnel a TUNNEL_BIND names.
struct BindCandidate {
    var isPending: Bool
    /// The control link of the agent that was asked to open the tunnel is still up.
    var ownerLinkLive: Bool
    var bindToken: [UInt8]
}

enum BindDecision: Equatable {
    case accept
    case reject(String)

    /// The token is the proof that the data link comes from the agent that got
    /// TUNNEL_OPEN on its control link; it is compared in constant time.
    static func decide(tunnelID: UInt32, candidate: BindCandidate?, presentedToken: [UInt8]) -> BindDecision {
        guard let candidate else { return .reject("no pending tunnel \(tunnelID)") }
        guard constantTimeEqual(candidate.bindToken, presentedToken) else {
            return .reject("bind token for tunnel \(tunnelID) does not match")
        }
        guard candidate.isPending else { return .reject("tunnel \(tunnelID) is already bound") }
        guard candidate.ownerLinkLive else { return .reject("the agent of tunnel \(tunnelID) is no longer registered") }
        return .accept
    }
}
