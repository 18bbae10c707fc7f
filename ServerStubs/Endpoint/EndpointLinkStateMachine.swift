import CamProtocol

/// The protocol logic of one agent link on the endpoint, free of I/O: inputs go
/// in as method calls, what to do comes back as an `Action`. The NIO handler
/// performs the actions; tests can drive this struct with no sockets.
///
/// Link order (docs/PROTOCOL.md): HTTP upgrade → HELLO/HELLO_ACK →
/// AUTH_BEGIN/AUTH_CHALLENGE → AUTH_PROOF/AUTH_OK → established (AGENT_INFO,
/// HEARTBEAT). Anything else, in any state, ends the link with an ERROR.
struct EndpointLinkStateMachine {
    struct Configuration {
        var serverName: String
        var heartbeatSeconds: UInt16
        var peerTimeoutSeconds: UInt16
    }

    enum State {
        case awaitingUpgrade
        case awaitingHello
        case awaitingAuthBegin
        /// `verifier` is random for an unknown agent id, so the proof simply fails.
        case awaitingProof(agentID: String, known: Bool, verifier: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8])
        case established(agentID: String)
        case closed
    }

    enum Action: Equatable {
        /// Nothing to do.
        case none
        /// Answer the HTTP upgrade with 101 Switching Protocols.
        case acceptUpgrade
        /// Answer with a plain HTTP error and close. `reason` is for the log.
        case rejectUpgrade(status: Int, statusText: String, reason: String)
        /// Send a message; the link stays open.
        case send(Message)
        /// Send ERROR(code, text) and close. `reason` is for the log.
        case closeWithError(code: ErrorCode, text: String, reason: String)
        /// The agent proved its identity: send `reply` (AUTH_OK), mark the link
        /// established, register the session and assign a streampoint.
        case authenticated(agentID: String, reply: Message)
        /// The agent described itself.
        case agentInfo(agentID: String, software: String, buildTarget: String)
        /// The agent's ticket was refused by its streampoint: send a fresh assignment.
        case ticketRequested(agentID: String)
        /// The peer sent ERROR: close without answering.
        case peerClosed(code: ErrorCode, text: String)
    }

    let configuration: Configuration
    private(set) var state: State = .awaitingUpgrade

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    var agentID: String? {
        if case .established(let id) = state { return id }
        return nil
    }

    var isEstablished: Bool { agentID != nil }

    mutating func upgradeReceived(path: String) -> Action {
        guard case .awaitingUpgrade = state else {
            return unexpected("a second HTTP upgrade")
        }
        guard path == ProtocolConstants.upgradePath else {
            state = .closed
            return .rejectUpgrade(status: 404, statusText: "Not Found",
                                  reason: "upgrade for unknown path (expected \(ProtocolConstants.upgradePath))")
        }
        state = .awaitingHello
        return .acceptUpgrade
    }

    /// - Parameters:
    ///   - verifierFor: the stored verifier of an agent id, nil if unknown.
    ///   - makeNonce: a fresh random nonce of `ProtocolConstants.nonceSize` bytes.
    mutating func messageReceived(_ message: Message,
                                  verifierFor: (String) -> [UInt8]?,
                                  makeNonce: () -> [UInt8]) -> Action {
        switch (state, message) {
        case (.closed, _):
            return .none

        case (_, .error(let code, let text)):
            state = .closed
            return .peerClosed(code: code, text: text)

        case (.awaitingUpgrade, _):
            // LinkDecoder yields no message before the upgrade; defensive.
            return unexpected(message.name + " before the HTTP upgrade")

        case (.awaitingHello, .hello(_, let role, _)):
            // The version is checked by the decoder (unsupported-version).
            guard role == .endpointControl else {
                state = .closed
                return .closeWithError(
                    code: .unexpectedMessage,
                    text: "this server is an endpoint; it does not serve \(role.name) links",
                    reason: "HELLO for role \(role.name)")
            }
            state = .awaitingAuthBegin
            return .send(.helloAck(version: ProtocolConstants.version, server: configuration.serverName))

        case (.awaitingAuthBegin, .authBegin(let agentID, let clientNonce)):
            let stored = Identifier.isValid(agentID) ? verifierFor(agentID) : nil
            let serverNonce = makeNonce()
            // Unknown ids get the same answer as known ones: a random challenge.
            // The proof then fails, so probing does not reveal which ids exist.
            state = .awaitingProof(agentID: agentID, known: stored != nil,
                                   verifier: stored ?? makeNonce(),
                                   clientNonce: clientNonce, serverNonce: serverNonce)
            return .send(.authChallenge(serverNonce: serverNonce))

        case (.awaitingProof(let agentID, let known, let verifier, let clientNonce, let serverNonce), .authProof(let proof)):
            let expected = Authentication.clientProof(verifier: verifier, agentID: agentID,
                                                      clientNonce: clientNonce, serverNonce: serverNonce)
            guard constantTimeEqual(proof, expected), known else {
                state = .closed
                return .closeWithError(
                    code: .authenticationFailed, text: "authentication failed",
                    reason: known ? "wrong proof for agent \(agentID)"
                                  : "unknown agent \(Identifier.isValid(agentID) ? agentID : "(invalid id)")")
            }
            state = .established(agentID: agentID)
            let serverProof = Authentication.serverProof(verifier: verifier, agentID: agentID,
                                                         clientNonce: clientNonce, serverNonce: serverNonce)
            return .authenticated(agentID: agentID, reply: .authOK(
                serverProof: serverProof,
                heartbeatSeconds: configuration.heartbeatSeconds,
                peerTimeoutSeconds: configuration.peerTimeoutSeconds))

        case (.established(let agentID), .agentInfo(let software, let buildTarget)):
            return .agentInfo(agentID: agentID, software: software, buildTarget: buildTarget)

        case (.established(let agentID), .ticketRequest):
            return .ticketRequested(agentID: agentID)

        case (.awaitingAuthBegin, .heartbeat), (.awaitingProof, .heartbeat), (.established, .heartbeat):
            // Liveness only; the keepalive handler already noted the bytes.
            return .none

        default:
            return unexpected(message.name + " in state " + stateName)
        }
    }

    /// Call when the handler closes the link for its own reasons (decoding error, peer gone).
    mutating func closed() {
        state = .closed
    }

    private mutating func unexpected(_ what: String) -> Action {
        state = .closed
        return .closeWithError(code: .unexpectedMessage, text: "unexpected \(what)", reason: "unexpected \(what)")
    }

    var stateName: String {
        switch state {
        case .awaitingUpgrade: return "awaiting-upgrade"
        case .awaitingHello: return "awaiting-hello"
        case .awaitingAuthBegin: return "awaiting-auth-begin"
        case .awaitingProof: return "awaiting-auth-proof"
        case .established: return "established"
        case .closed: return "closed"
        }
    }
}
