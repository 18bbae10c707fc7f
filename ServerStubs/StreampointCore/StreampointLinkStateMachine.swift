import CamProtocol

// Pure protocol logic of the streampoint: no NIO, no clocks, no sockets.
// The NIO glue (AgentLinkHandler) feeds events in and carries out the returned actions.

/// What every agent link (control or data) may do, step by step:
///
///     awaitingUpgrade --GET /camagent/v1--> awaitingHello
///     awaitingHello --HELLO(streampoint-control)--> awaitingRegister --STREAM_REGISTER(valid ticket)--> registered
///     awaitingHello --HELLO(tunnel-data)--> awaitingBind --TUNNEL_BIND--> binding --(registry accepts)--> bound
///
/// Anything else closes the link with a reason the peer can read.
struct StreampointLinkStateMachine {
    enum State: Equatable {
        case awaitingUpgrade
        case awaitingHello
        case awaitingRegister
        case registered(agentID: String)
        case awaitingBind
        case binding(tunnelID: UInt32)
        case bound(tunnelID: UInt32)
        case closed
    }

    enum Action: Equatable {
        /// Answer the upgrade with 101 Switching Protocols.
        case acceptUpgrade
        /// Answer with an HTTP error and close.
        case rejectUpgrade(status: Int, reason: String, logReason: String)
        /// Control link: reply HELLO_ACK now.
        case sendHelloAck(server: String)
        /// Data link: no reply until TUNNEL_BIND validates.
        case awaitBind
        /// A valid STREAM_REGISTER: record the agent and open its viewer listeners.
        case register(agentID: String, targets: [TunnelTarget])
        /// Ask the registry whether this data link may carry the tunnel.
        case bind(tunnelID: UInt32, bindToken: [UInt8])
        /// The agent could not reach a target: close that viewer.
        case tunnelOpenFailed(tunnelID: UInt32, code: ErrorCode, message: String)
        case ignore
        /// Send ERROR(code, text) and close.
        case fail(ErrorCode, String)
        /// The peer sent ERROR: log it and close.
        case peerError(ErrorCode, String)
    }

    let streampointID: String
    let ticketKey: [UInt8]
    private(set) var state: State = .awaitingUpgrade

    init(streampointID: String, ticketKey: [UInt8]) {
        self.streampointID = streampointID
        self.ticketKey = ticketKey
    }

    var serverName: String { "camagent-streampoint \(streampointID)" }

    /// The streampoint learns that an agent is revoked, not why: the reason stays with the endpoint.
    static let revokedText = "agent revoked by operator"

    var isBound: Bool {
        if case .bound = state { return true }
        return false
    }

    var isControl: Bool {
        if case .registered = state { return true }
        return false
    }

    mutating func upgraded(_ request: UpgradeRequest) -> Action {
        guard state == .awaitingUpgrade else { return close(.unexpectedMessage, "second HTTP upgrade on one link") }
        guard request.path == ProtocolConstants.upgradePath else {
            state = .closed
            return .rejectUpgrade(status: 404, reason: "Not Found",
                                  logReason: "upgrade request for unknown path \(request.path)")
        }
        state = .awaitingHello
        return .acceptUpgrade
    }

    /// `now` is Unix seconds, used for the ticket's expiry. `revokedAgents` is the
    /// endpoint's revoked set (the streampoint channel): their REGISTER is refused.
    mutating func received(_ message: Message, now: UInt64, revokedAgents: Set<String> = []) -> Action {
        if case .error(let code, let text) = message {
            state = .closed
            return .peerError(code, text)
        }
        switch state {
        case .awaitingUpgrade:
            return close(.unexpectedMessage, "\(message.name) before the HTTP upgrade")
        case .awaitingHello:
            guard case .hello(let version, let role, _) = message else {
                return close(.unexpectedMessage, "expected HELLO, got \(message.name)")
            }
            guard version == ProtocolConstants.version else {
                return close(.unsupportedVersion, ProtocolError.unsupportedVersion(version).description)
            }
            switch role {
            case .streampointControl:
                state = .awaitingRegister
                return .sendHelloAck(server: serverName)
            case .tunnelData:
                state = .awaitingBind
                return .awaitBind
            case .endpointControl:
                return close(.unexpectedMessage,
                             "this is streampoint \(streampointID); it serves streampoint-control and tunnel-data links, not endpoint-control")
            }
        case .awaitingRegister:
            switch message {
            case .heartbeat:
                return .ignore
            case .streamRegister(let ticketBytes, let targets):
                let ticket: Ticket
                do {
                    ticket = try Ticket.verify(ticketBytes, key: ticketKey, streampointID: streampointID, now: now)
                } catch {
                    return close(.invalidTicket, error.description)
                }
                if let problem = Self.checkTargets(targets) {
                    return close(.malformedFrame, problem)
                }
                // After the ticket check: only the ticket's holder learns that its agent is revoked.
                if revokedAgents.contains(ticket.agentID) {
                    return close(.revoked, Self.revokedText)
                }
                state = .registered(agentID: ticket.agentID)
                return .register(agentID: ticket.agentID, targets: targets)
            default:
                return close(.unexpectedMessage, "expected STREAM_REGISTER, got \(message.name)")
            }
        case .registered:
            switch message {
            case .heartbeat:
                return .ignore
            case .tunnelOpenFailed(let tunnelID, let code, let text):
                return .tunnelOpenFailed(tunnelID: tunnelID, code: code, message: text)
            default:
                return close(.unexpectedMessage, "unexpected \(message.name) on a registered control link")
            }
        case .awaitingBind:
            switch message {
            case .heartbeat:
                return .ignore
            case .tunnelBind(let tunnelID, let token):
                state = .binding(tunnelID: tunnelID)
                return .bind(tunnelID: tunnelID, bindToken: token)
            default:
                return close(.unexpectedMessage, "expected TUNNEL_BIND on a tunnel-data link, got \(message.name)")
            }
        case .binding, .bound:
            // The decoder turns the link into raw bytes after TUNNEL_BIND; a message here is a bug.
            return close(.unexpectedMessage, "unexpected \(message.name) on a bound data link")
        case .closed:
            return .ignore
        }
    }

    /// The registry's verdict on the TUNNEL_BIND.
    mutating func bindResolved(accepted: Bool) {
        guard case .binding(let id) = state else { return }
        state = accepted ? .bound(tunnelID: id) : .closed
    }

    private mutating func close(_ code: ErrorCode, _ text: String) -> Action {
        state = .closed
        return .fail(code, text)
    }

    /// Target names become URLs and admin keys: they must be present and unique.
    /// A path goes into the pull's request line, so it must keep to the config's rule.
    static func checkTargets(_ targets: [TunnelTarget]) -> String? {
        var seen = Set<String>()
        for target in targets {
            if target.name.isEmpty { return "STREAM_REGISTER has a target without a name" }
            if target.host.isEmpty { return "target \(target.name) has no host" }
            if target.port == 0 { return "target \(target.name) has port 0" }
            if !target.path.isEmpty && !RTSPPathSyntax.isValid(target.path) {
                return "target \(target.name) has an RTSP path that is not printable ASCII from / (at most 128 bytes)"
            }
            if !seen.insert(target.name).inserted { return "STREAM_REGISTER names target \(target.name) twice" }
        }
        return nil
    }
}
