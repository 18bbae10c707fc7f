import CamProtocol

/// Where an agent is sent and the tickets that let it in there: the
/// assignment policy, apart from the registry (which holds the operator's
/// choices) and from the sessions.
struct StreampointAssignment {
    /// --streampoint, in order; the first is the default.
    let streampoints: [StreampointInfo]
    /// Shared with every streampoint, which checks tickets without calling the endpoint.
    let ticketKey: [UInt8]
    let ticketLifetime: UInt64

    var defaultStreampoint: StreampointInfo { streampoints[0] }

    func streampoint(id: String) -> StreampointInfo? {
        streampoints.first { $0.id == id }
    }

    /// The operator's choice if this endpoint knows that streampoint, otherwise the default.
    func main(assigned: String?) -> StreampointInfo {
        assigned.flatMap(streampoint(id:)) ?? defaultStreampoint
    }

    /// The backup the operator chose if it is configured and not the main one,
    /// else the --streampoint after the main one (wrapping); nil with a single streampoint.
    func backup(chosen: String?, main: StreampointInfo) -> StreampointInfo? {
        if let chosen, chosen != main.id, let sp = streampoint(id: chosen) { return sp }
        return StreampointInfo.following(main.id, in: streampoints)
    }

    /// STREAMPOINT_ASSIGN naming the main and the backup streampoint, each with
    /// its own freshly signed ticket (a ticket names its streampoint).
    /// `now`: Unix seconds; `nonce` is asked once per ticket.
    func message(agentID: String, main: StreampointInfo, backup: StreampointInfo?,
                 now: UInt64, nonce: () -> [UInt8]) -> Message {
        let offer = self.offer(main, to: agentID, now: now, nonce: nonce())
        return .streampointAssign(streampointID: offer.streampointID, host: offer.host, port: offer.port,
                                  ticket: offer.ticket, tls: offer.tls,
                                  backup: backup.map { self.offer($0, to: agentID, now: now, nonce: nonce()) })
    }

    private func offer(_ sp: StreampointInfo, to agentID: String, now: UInt64, nonce: [UInt8]) -> StreampointOffer {
        let ticket = Ticket(agentID: agentID, streampointID: sp.id, expiresAt: now + ticketLifetime, nonce: nonce)
        return StreampointOffer(streampointID: sp.id, host: sp.host, port: UInt16(sp.port),
                                ticket: ticket.signed(key: ticketKey), tls: sp.tls)
    }
}
