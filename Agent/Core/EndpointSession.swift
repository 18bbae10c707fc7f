import CamProtocol

/// Where the endpoint sent us: the streampoint to register with and the ticket to present.
public struct StreampointAssignment: Equatable, Sendable {
    public var streampointID: String
    public var address: ServerAddress
    public var ticket: [UInt8]
}

/// The management link: dial the endpoint list in turn, prove the device key
/// and check the endpoint's proof, then keep the link alive and pass on
/// streampoint assignments.
struct EndpointSession: Sendable {
    enum Handshake: Equatable, Sendable {
        case awaitingHelloAck
        case awaitingChallenge(clientNonce: [UInt8])
        case awaitingAuthOK(clientNonce: [UInt8], serverNonce: [UInt8])
        case awaitingActivationChallenge(clientNonce: [UInt8])
        case awaitingActivated(clientNonce: [UInt8], serverNonce: [UInt8])
    }

    private(set) var link: ControlLink
    private var handshake = Handshake.awaitingHelloAck
    /// nil until a factory-fresh unit has activated.
    private(set) var identity: AgentIdentity?
    private var verifier: [UInt8] = []
    private let factory: FactoryIdentity?
    private let endpoints: [ServerAddress]
    /// Index into `endpoints` of the next (or current) attempt.
    private(set) var endpointIndex = 0

    init(config: AgentConfig, identity: AgentIdentity?) {
        factory = config.factory
        endpoints = config.endpoints
        link = ControlLink(id: .endpoint, role: .endpointControl, config: config)
        if let identity { adopt(identity) }
    }

    private mutating func adopt(_ identity: AgentIdentity) {
        self.identity = identity
        verifier = Authentication.verifier(deviceKey: identity.deviceKey, agentID: identity.agentID)
    }

    var currentEndpoint: ServerAddress { endpoints[endpointIndex] }

    mutating func dialIfDue(now: Int64) -> [AgentAction] {
        guard link.mayDial(now: now) else { return [] }
        handshake = .awaitingHelloAck
        return link.dial(endpoints[endpointIndex], now: now)
    }

    mutating func connected(now: Int64) -> [AgentAction] { link.connected(now: now) }

    mutating func feed(_ bytes: [UInt8], now: Int64) -> [LinkInput] { link.feed(bytes, now: now) }

    /// A failure moves on to the next endpoint in the list, after backoff.
    mutating func fail(_ reason: String, now: Int64, random: UInt64, closeSocket: Bool = true) -> [AgentAction] {
        let wasUp = link.isUp
        let actions = link.fail(reason, now: now, random: random, closeSocket: closeSocket)
        // After a working session was lost, start again from the main endpoint.
        endpointIndex = wasUp ? 0 : (endpointIndex + 1) % endpoints.count
        return actions
    }

    /// Handles one input; an assignment, if the endpoint sent one, is returned.
    mutating func handle<E: EntropySource>(_ input: LinkInput, now: Int64, entropy: inout E,
                                          actions: inout [AgentAction]) -> StreampointAssignment? {
        switch input {
        case .upgraded:
            return nil
        case .raw:
            actions += fail("endpoint sent raw bytes on a control link", now: now, random: entropy.uint64())
            return nil
        case .upgradeFailed(let error):
            actions += fail(error.description, now: now, random: entropy.uint64())
            return nil
        case .violation(let error):
            actions.append(.send(.endpoint, Message.error(code: error.code, message: error.description).encoded()))
            actions += fail("protocol violation: \(error.description)", now: now, random: entropy.uint64())
            return nil
        case .message(let message):
            return handle(message, now: now, entropy: &entropy, actions: &actions)
        }
    }

    private mutating func handle<E: EntropySource>(_ message: Message, now: Int64, entropy: inout E,
                                                  actions: inout [AgentAction]) -> StreampointAssignment? {
        switch (message, handshake, link.isUp) {
        case (.error(let code, let text), _, _):
            if code == .revoked {
                // Retrying quickly cannot help; only the operator can undo this.
                link.backoff.saturate()
            }
            actions += fail("endpoint refused us: \(code.name): \(text)", now: now, random: entropy.uint64())
        case (.helloAck, .awaitingHelloAck, false):
            let nonce = entropy.bytes(ProtocolConstants.nonceSize)
            if let identity {
                handshake = .awaitingChallenge(clientNonce: nonce)
                actions.append(.send(.endpoint, Message.authBegin(agentID: identity.agentID, clientNonce: nonce).encoded()))
            } else if let factory {
                handshake = .awaitingActivationChallenge(clientNonce: nonce)
                actions.append(.log(.info, "endpoint: activating unit \(factory.serial) at \(currentEndpoint.display)"))
                actions.append(.send(.endpoint, Message.activateBegin(serial: factory.serial, mac: factory.mac, model: factory.model,
                                                                      firmware: factory.firmware, clientNonce: nonce).encoded()))
            }
        case (.authChallenge(let serverNonce), .awaitingChallenge(let clientNonce), false):
            guard let identity else { return nil }
            let proof = Authentication.clientProof(verifier: verifier, agentID: identity.agentID,
                                                   clientNonce: clientNonce, serverNonce: serverNonce)
            handshake = .awaitingAuthOK(clientNonce: clientNonce, serverNonce: serverNonce)
            actions.append(.send(.endpoint, Message.authProof(proof: proof).encoded()))
        case (.authOK(let serverProof, let heartbeat, let timeout), .awaitingAuthOK(let clientNonce, let serverNonce), false):
            guard let identity else { return nil }
            let expected = Authentication.serverProof(verifier: verifier, agentID: identity.agentID,
                                                      clientNonce: clientNonce, serverNonce: serverNonce)
            guard constantTimeEqual(serverProof, expected) else {
                actions.append(.send(.endpoint, Message.error(code: .authenticationFailed,
                                                              message: "server proof does not verify").encoded()))
                actions += fail("endpoint could not prove it knows our key; refusing it", now: now,
                                random: entropy.uint64())
                return nil
            }
            adoptTimers(heartbeatSeconds: heartbeat, peerTimeoutSeconds: timeout)
            link.markUp(now: now)
            actions.append(.log(.info, "endpoint: authenticated to \(currentEndpoint.display) as \(identity.agentID)"))
            actions.append(.send(.endpoint, Message.agentInfo(software: AgentVersion.software,
                                                              buildTarget: BuildInfo.target).encoded()))
        case (.authChallenge(let serverNonce), .awaitingActivationChallenge(let clientNonce), false):
            guard let factory else { return nil }
            let activationVerifier = Activation.verifier(activationSecret: factory.activationSecret, serial: factory.serial)
            let proof = Activation.clientProof(verifier: activationVerifier, serial: factory.serial,
                                               clientNonce: clientNonce, serverNonce: serverNonce)
            handshake = .awaitingActivated(clientNonce: clientNonce, serverNonce: serverNonce)
            actions.append(.send(.endpoint, Message.activateProof(proof: proof).encoded()))
        case (.activated(let serverProof, let agentID, let wrappedKey), .awaitingActivated(let clientNonce, let serverNonce), false):
            guard let factory else { return nil }
            actions += finishActivation(factory: factory, serverProof: serverProof, agentID: agentID, wrappedKey: wrappedKey,
                                        clientNonce: clientNonce, serverNonce: serverNonce, now: now, random: entropy.uint64())
        case (.heartbeat, _, true):
            break
        case (.streampointAssign(let id, let host, let port, let ticket, let tls), _, true):
            guard isValidAgentID(id), !host.isEmpty, port != 0 else {
                actions.append(.send(.endpoint, Message.error(code: .malformedFrame,
                                                              message: "unusable STREAMPOINT_ASSIGN").encoded()))
                actions += fail("endpoint sent an unusable streampoint assignment", now: now, random: entropy.uint64())
                return nil
            }
            return StreampointAssignment(streampointID: id, address: ServerAddress(host: host, port: port, tls: tls), ticket: ticket)
        default:
            let text = "unexpected \(message.name)"
            actions.append(.send(.endpoint, Message.error(code: .unexpectedMessage, message: text).encoded()))
            actions += fail("endpoint sent \(text)", now: now, random: entropy.uint64())
        }
        return nil
    }

    var heartbeatMs: Int64 { link.heartbeatMs }
    var peerTimeoutMs: Int64 { link.peerTimeoutMs }

    /// Checks the endpoint's proof, unwraps the device key and hands the new
    /// identity to the runtime to store; the link is then closed and redialled
    /// at once to authenticate with that identity.
    private mutating func finishActivation(factory: FactoryIdentity, serverProof: [UInt8], agentID: String, wrappedKey: [UInt8],
                                           clientNonce: [UInt8], serverNonce: [UInt8], now: Int64, random: UInt64) -> [AgentAction] {
        let activationVerifier = Activation.verifier(activationSecret: factory.activationSecret, serial: factory.serial)
        let expected = Activation.serverProof(verifier: activationVerifier, serial: factory.serial,
                                              clientNonce: clientNonce, serverNonce: serverNonce)
        guard constantTimeEqual(serverProof, expected) else {
            return [.send(.endpoint, Message.error(code: .authenticationFailed, message: "server proof does not verify").encoded())]
                + fail("endpoint could not prove it knows our activation secret; refusing it", now: now, random: random)
        }
        guard isValidAgentID(agentID), wrappedKey.count == SHA256.digestSize else {
            return [.send(.endpoint, Message.error(code: .malformedFrame, message: "unusable ACTIVATED").encoded())]
                + fail("endpoint sent an unusable identity", now: now, random: random)
        }
        let pad = Activation.keyPad(verifier: activationVerifier, serial: factory.serial,
                                    clientNonce: clientNonce, serverNonce: serverNonce)
        let identity = AgentIdentity(agentID: agentID, deviceKey: Activation.xor(wrappedKey, pad))
        adopt(identity)
        var actions: [AgentAction] = [.log(.info, "endpoint: unit \(factory.serial) activated as \(agentID)"),
                                      .storeIdentity(identity)]
        actions += link.shutDown()
        link.backoff.reset()
        actions += dialIfDue(now: now)
        return actions
    }

    /// Forgets the identity (endpoint `reset`, later): the unit activates again.
    mutating func forgetIdentity() {
        identity = nil
        verifier = []
    }

    /// The endpoint chooses the timers; values outside sane bounds are clamped so
    /// a misconfigured server cannot make us spin or never notice a dead peer.
    private mutating func adoptTimers(heartbeatSeconds: UInt16, peerTimeoutSeconds: UInt16) {
        let heartbeat = Int64(min(max(heartbeatSeconds, 1), 300))
        let timeout = Int64(min(max(peerTimeoutSeconds, 3), 900))
        link.heartbeatMs = heartbeat * 1000
        link.peerTimeoutMs = max(timeout, heartbeat * 2) * 1000
    }

    mutating func requestTicket(now: Int64) -> [AgentAction] {
        guard link.isUp else { return [] }
        link.noteSent(now: now)
        return [.send(.endpoint, Message.ticketRequest.encoded())]
    }

    mutating func tick<E: EntropySource>(now: Int64, entropy: inout E) -> [AgentAction] {
        switch link.tick(now: now) {
        case .nothing:
            return dialIfDue(now: now)
        case .sendHeartbeat:
            link.noteSent(now: now)
            return [.send(.endpoint, Message.heartbeat.encoded())]
        case .expired(let reason):
            return fail(reason, now: now, random: entropy.uint64())
        }
    }
}

/// What `--version` and AGENT_INFO report about this build.
public enum BuildInfo {
    #if hasFeature(Embedded)
    public static let flavour = "embedded"
    #else
    public static let flavour = "host"
    #endif

    #if arch(x86_64)
    public static let arch = "x86_64"
    #elseif arch(arm)
    public static let arch = "arm"
    #elseif arch(arm64)
    public static let arch = "aarch64"
    #elseif arch(wasm32)
    public static let arch = "wasm32"
    #else
    public static let arch = "unknown"
    #endif

    public static var target: String { "\(arch)-linux (\(flavour))" }
}
