/// What applying the endpoint's revoked set closes: the sessions and every
/// tunnel (pending or open, of any session) of the agents in the set.
struct RevocationPlan: Equatable {
    var sessionsToEnd: [String] = []
    var tunnelsToClose: [UInt32] = []

    var isEmpty: Bool { sessionsToEnd.isEmpty && tunnelsToClose.isEmpty }

    static func make(revoked: Set<String>, registeredAgents: some Sequence<String>,
                     tunnels: some Sequence<(id: UInt32, agentID: String)>) -> RevocationPlan {
        RevocationPlan(
            sessionsToEnd: registeredAgents.filter { revoked.contains($0) }.sorted(),
            tunnelsToClose: tunnels.filter { revoked.contains($0.agentID) }.map(\.id).sorted())
    }
}
