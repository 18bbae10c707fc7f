import CamProtocol

/// What the link state machine may look up; EndpointState in the server, a
/// plain registry and limiter in tests. Lookups only: every change comes back
/// as an Action.
protocol EndpointDirectory {
    /// The stored verifier of an agent id, nil if unknown.
    func verifier(agentID: String) -> [UInt8]?
    /// Why the operator revoked an agent id (its record or its unit), nil if not revoked.
    func revocation(agentID: String) -> Revocation?
    /// The stored activation verifier of a unit, nil if the serial is unknown.
    func activationVerifier(serial: String) -> [UInt8]?
    /// What blocks an attempt (FailureLimiter), nil if it may go ahead.
    func block(for subject: AttemptSubject) -> FailureLimiter.Block?
    /// Fresh random bytes from a cryptographic generator.
    func randomBytes(_ count: Int) -> [UInt8]
}

/// The protocol logic of one agent link on the endpoint, free of I/O: inputs go
/// in as method calls, what to do comes back as an `Action`. The NIO handler
/// performs the actions; tests can drive this struct with no sockets.
///
/// Link order (docs/PROTOCOL.md): HTTP upgrade → HELLO/HELLO_ACK →
/// AUTH_BEGIN/AUTH_CHALLENGE → AUTH_PROOF/AUTH_OK → established (AGENT_INFO,
/// HEARTBEAT). Or, for a factory-fresh unit (§5.6), after HELLO_ACK:
/// ACTIVATE_BEGIN/AUTH_CHALLENGE → ACTIVATE_PROOF → (the endpoint decides) →
/// ACTIVATED and close. Anything else, in any state, ends the link with an ERROR.
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
        /// `verifier` is random for an unknown serial, so the proof simply fails.
        case awaitingActivationProof(request: ActivationRequest, known: Bool, verifier: [UInt8],
                                     clientNonce: [UInt8], serverNonce: [UInt8])
        /// The activation proof was correct; the endpoint is deciding (activationDecided).
        case activating(serial: String, verifier: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8])
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
        /// The agent described itself. `serial`, `mac`, `model` are empty for a
        /// unit with a fixed identity (or an older agent).
        case agentInfo(agentID: String, software: String, buildTarget: String, serial: String, mac: String, model: String)
        /// The agent reported its state and counters (AGENT_STATS).
        case agentStats(agentID: String, report: StatsReport)
        /// The agent answered a COMMAND.
        case commandResult(agentID: String, commandID: UInt32, code: ErrorCode?, message: String)
        /// The agent's ticket was refused by its streampoint: send a fresh assignment.
        case ticketRequested(agentID: String)
        /// The peer sent ERROR: close without answering.
        case peerClosed(code: ErrorCode, text: String)
        /// A wrong proof, unknown agent id or unknown serial: count a failure
        /// against `subject` (rate limiting), send ERROR(authentication-failed,
        /// `text`) and close. `reason` is for the log.
        case attemptFailed(subject: AttemptSubject, text: String, reason: String)
        /// A unit proved its activation secret: decide (revoked? clone? issue a
        /// key?) and pass the outcome to `activationDecided`.
        case activationProved(subject: AttemptSubject, request: ActivationRequest)
        /// Send `reply` (ACTIVATED) and close; the unit reconnects with AUTH_BEGIN.
        case activated(agentID: String, serial: String, reactivated: Bool, reply: Message)
    }

    let configuration: Configuration
    /// The peer's IP address, the per-address key of rate limiting.
    let remoteHost: String
    private(set) var state: State = .awaitingUpgrade

    init(configuration: Configuration, remoteHost: String = "?") {
        self.configuration = configuration
        self.remoteHost = remoteHost
    }

    var agentID: String? {
        if case .established(let id) = state { return id }
        return nil
    }

    var isEstablished: Bool { agentID != nil }

    /// HELLO was answered and nothing followed: how an agent on a backup
    /// endpoint checks whether this (main) endpoint answers again. Closing
    /// here is no failed attempt.
    var isReachabilityCheck: Bool {
        if case .awaitingAuthBegin = state { return true }
        return false
    }

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

    mutating func messageReceived<D: EndpointDirectory>(_ message: Message, directory: D) -> Action {
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
            let subject = AttemptSubject(kind: .agent, id: agentID, host: remoteHost)
            if let block = directory.block(for: subject) { return rateLimited(subject, block) }
            let stored = Identifier.isValid(agentID) ? directory.verifier(agentID: agentID) : nil
            let serverNonce = directory.randomBytes(ProtocolConstants.nonceSize)
            // Unknown ids get the same answer as known ones: a random challenge.
            // The proof then fails, so probing does not reveal which ids exist.
            state = .awaitingProof(agentID: agentID, known: stored != nil,
                                   verifier: stored ?? directory.randomBytes(ProtocolConstants.nonceSize),
                                   clientNonce: clientNonce, serverNonce: serverNonce)
            return .send(.authChallenge(serverNonce: serverNonce))

        case (.awaitingProof(let agentID, let known, let verifier, let clientNonce, let serverNonce), .authProof(let proof)):
            let subject = AttemptSubject(kind: .agent, id: agentID, host: remoteHost)
            // Checked again: failures elsewhere may have started a block while this link waited.
            if let block = directory.block(for: subject) { return rateLimited(subject, block) }
            let expected = Authentication.clientProof(verifier: verifier, agentID: agentID,
                                                      clientNonce: clientNonce, serverNonce: serverNonce)
            guard constantTimeEqual(proof, expected), known else {
                state = .closed
                return .attemptFailed(
                    subject: subject, text: "authentication failed",
                    reason: known ? "wrong proof for agent \(agentID)" : "unknown agent \(subject.id)")
            }
            // Only now, to the holder of the key, is the revocation and its reason told.
            if let revocation = directory.revocation(agentID: agentID) {
                state = .closed
                return .closeWithError(code: .revoked, text: revocation.errorText,
                                       reason: "agent \(agentID) is revoked: \(bounded(revocation.reason))")
            }
            state = .established(agentID: agentID)
            let serverProof = Authentication.serverProof(verifier: verifier, agentID: agentID,
                                                         clientNonce: clientNonce, serverNonce: serverNonce)
            return .authenticated(agentID: agentID, reply: .authOK(
                serverProof: serverProof,
                heartbeatSeconds: configuration.heartbeatSeconds,
                peerTimeoutSeconds: configuration.peerTimeoutSeconds))

        case (.awaitingAuthBegin, .activateBegin(let serial, let mac, let model, let firmware, let clientNonce)):
            let subject = AttemptSubject(kind: .serial, id: serial, host: remoteHost)
            if let block = directory.block(for: subject) { return rateLimited(subject, block) }
            let stored = Identifier.isValid(serial) ? directory.activationVerifier(serial: serial) : nil
            let serverNonce = directory.randomBytes(ProtocolConstants.nonceSize)
            // As for AUTH_BEGIN: an unknown serial gets a challenge too, so
            // probing does not reveal which serials exist.
            state = .awaitingActivationProof(
                request: ActivationRequest(serial: serial, mac: mac, model: model, firmware: firmware),
                known: stored != nil, verifier: stored ?? directory.randomBytes(ProtocolConstants.nonceSize),
                clientNonce: clientNonce, serverNonce: serverNonce)
            return .send(.authChallenge(serverNonce: serverNonce))

        case (.awaitingActivationProof(let request, let known, let verifier, let clientNonce, let serverNonce), .activateProof(let proof)):
            let subject = AttemptSubject(kind: .serial, id: request.serial, host: remoteHost)
            if let block = directory.block(for: subject) { return rateLimited(subject, block) }
            let expected = Activation.clientProof(verifier: verifier, serial: request.serial,
                                                  clientNonce: clientNonce, serverNonce: serverNonce)
            guard constantTimeEqual(proof, expected), known else {
                state = .closed
                return .attemptFailed(
                    subject: subject, text: "activation failed",
                    reason: known ? "wrong activation proof for unit \(request.serial)" : "activation by unknown unit \(subject.id)")
            }
            state = .activating(serial: request.serial, verifier: verifier, clientNonce: clientNonce, serverNonce: serverNonce)
            return .activationProved(subject: subject, request: request)

        case (.established(let agentID), .agentStats(let report)):
            return .agentStats(agentID: agentID, report: report)

        case (.established(let agentID), .commandResult(let commandID, let code, let text)):
            return .commandResult(agentID: agentID, commandID: commandID, code: code, message: text)

        case (.established(let agentID), .agentInfo(let software, let buildTarget, let serial, let mac, let model)):
            return .agentInfo(agentID: agentID, software: software, buildTarget: buildTarget, serial: serial, mac: mac, model: model)

        case (.established(let agentID), .ticketRequest):
            return .ticketRequested(agentID: agentID)

        case (.awaitingAuthBegin, .heartbeat), (.awaitingProof, .heartbeat), (.awaitingActivationProof, .heartbeat),
             (.activating, .heartbeat), (.established, .heartbeat):
            // Liveness only; the keepalive handler already noted the bytes.
            return .none

        default:
            return unexpected(message.name + " in state " + stateName)
        }
    }

    /// The endpoint's decision after `.activationProved`. An issued key goes to
    /// the unit wrapped in a pad only the holder of the activation secret can
    /// compute (docs/PROTOCOL.md §5.6); the link then closes either way.
    mutating func activationDecided(_ outcome: ActivationOutcome) -> Action {
        guard case .activating(let serial, let verifier, let clientNonce, let serverNonce) = state else {
            // The link closed while the endpoint decided.
            return .none
        }
        state = .closed
        switch outcome {
        case .refused(let code, let text, let reason):
            return .closeWithError(code: code, text: text, reason: reason)
        case .issued(let agentID, let key, let reactivated):
            let pad = Activation.keyPad(verifier: verifier, serial: serial, clientNonce: clientNonce, serverNonce: serverNonce)
            let serverProof = Activation.serverProof(verifier: verifier, serial: serial,
                                                     clientNonce: clientNonce, serverNonce: serverNonce)
            return .activated(agentID: agentID, serial: serial, reactivated: reactivated,
                              reply: .activated(serverProof: serverProof, agentID: agentID,
                                                wrappedKey: Activation.xor(key.bytes, pad)))
        }
    }

    private mutating func rateLimited(_ subject: AttemptSubject, _ block: FailureLimiter.Block) -> Action {
        state = .closed
        let what = block == .address ? "address \(subject.address)" : subject.description
        return .closeWithError(code: .rateLimited, text: "too many failed attempts; retry later",
                               reason: "too many failed attempts from \(what); refused without checking")
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
        case .awaitingActivationProof: return "awaiting-activate-proof"
        case .activating: return "activating"
        case .established: return "established"
        case .closed: return "closed"
        }
    }
}
