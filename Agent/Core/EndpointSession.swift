import CamProtocol

/// Where the endpoint sent us: the streampoint to register with and the ticket to present.
public struct StreampointAssignment: Equatable, Sendable {
    public var streampointID: String
    public var address: ServerAddress
    public var ticket: [UInt8]
}

/// What the endpoint link reports up to AgentCore.
enum EndpointEvent: Equatable, Sendable {
    case authenticated
    case assigned(StreampointPlan)
    case command(commandID: UInt32, kind: CommandKind, argument: UInt32)
    case statsRequested
    /// Activation issued an identity, the endpoint pushed a list, or an
    /// endpoint answered on a new address: the state file is due.
    case stateChanged
}

/// The management link: dial the endpoint list in turn, prove the device key
/// and check the endpoint's proof, then keep the link alive and pass on the
/// endpoint's orders. While on a backup endpoint it checks now and then
/// whether the main one answers again, and moves back when it does.
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
    /// True when activation issued the identity (so it belongs in the state file).
    private(set) var identityIsIssued = false
    private let factory: FactoryIdentity?
    private let allowPlaintext: Bool
    private let configEndpoints: [ServerAddress]
    /// Main first. The config's list until the endpoint pushes one.
    private(set) var endpoints: [ServerAddress]
    private(set) var endpointsWerePushed: Bool
    /// Index into `endpoints` of the next (or current) attempt.
    private(set) var endpointIndex = 0
    private(set) var mainRecheckMs: Int64
    private(set) var mainRecheckWasPushed: Bool
    private var probe = MainEndpointProbe()
    /// Our address on the endpoint link, as the runtime saw it.
    private(set) var localAddress = ""
    /// The address the current link reached; kept as the endpoint's known
    /// address only once the endpoint has proved itself (AUTH_OK or ACTIVATED),
    /// so a refused or impostor server never lands in the state file.
    private var reachedAddress: String?

    init(config: AgentConfig, identity: AgentIdentity?, state: AgentState) {
        factory = config.factory
        allowPlaintext = config.allowPlaintext
        configEndpoints = config.endpoints
        endpoints = state.endpointList(config: config)
        endpointsWerePushed = !state.endpoints.isEmpty
        mainRecheckMs = state.mainEndpointRecheckMs ?? config.mainEndpointRecheckMs
        mainRecheckWasPushed = state.mainEndpointRecheckMs != nil
        link = ControlLink(id: .endpoint, role: .endpointControl, config: config)
        if let identity {
            adopt(identity)
        } else if let issued = state.identity {
            adopt(issued)
            identityIsIssued = true
        }
    }

    /// What the state file should hold now.
    var state: AgentState {
        AgentState(identity: identityIsIssued ? identity : nil,
                   endpoints: endpointsWerePushed ? endpoints : [],
                   configEndpointAddresses: endpointsWerePushed ? [] : endpoints.filter { $0.knownAddress != nil },
                   mainEndpointRecheckMs: mainRecheckWasPushed ? mainRecheckMs : nil)
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

    mutating func connected(now: Int64, addresses: SocketAddresses?) -> [AgentAction] {
        reachedAddress = nil
        if let addresses {
            localAddress = addresses.local
            if isNumericAddress(addresses.peer) { reachedAddress = addresses.peer }
        }
        return link.connected(now: now)
    }

    /// After the endpoint proved itself: true when it answered on an address
    /// we did not know, which the state file should keep.
    mutating func adoptReachedAddress() -> Bool {
        guard let reached = reachedAddress, endpointIndex < endpoints.count,
              endpoints[endpointIndex].knownAddress != reached else { return false }
        endpoints[endpointIndex].knownAddress = reached
        return true
    }

    mutating func feed(_ bytes: [UInt8], now: Int64) -> [LinkInput] { link.feed(bytes, now: now) }

    /// A failure moves on to the next endpoint in the list, after backoff.
    /// After a working session was closed, start again from the main endpoint
    /// (it may just have restarted); after one went silent, move on: the path
    /// to it is likely gone, and the main-endpoint check brings us back later.
    mutating func fail(_ reason: String, now: Int64, random: UInt64, closeSocket: Bool = true,
                       wentSilent: Bool = false) -> [AgentAction] {
        let wasUp = link.isUp
        var actions = link.fail(reason, now: now, random: random, closeSocket: closeSocket)
        endpointIndex = wasUp && !wentSilent ? 0 : (endpointIndex + 1) % endpoints.count
        actions += probe.cancel()
        return actions
    }

    /// Closes the link without counting a failure, and stays away until
    /// `until` (nil: dial again at once).
    mutating func leave(until: Int64?) -> [AgentAction] {
        let actions = link.shutDown() + probe.cancel()
        endpointIndex = 0
        link.backoff.reset()
        if let until { link.holdDown(until: until) }
        return actions
    }

    /// Handles one input; returns what the endpoint asked for, if anything.
    mutating func handle<E: EntropySource>(_ input: LinkInput, now: Int64, entropy: inout E,
                                          actions: inout [AgentAction]) -> EndpointEvent? {
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
                                                  actions: inout [AgentAction]) -> EndpointEvent? {
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
            probe.schedule(at: endpointIndex == 0 || endpoints.count < 2 ? nil : now + mainRecheckMs)
            actions.append(.log(.info, "endpoint: authenticated to \(currentEndpoint.display) as \(identity.agentID)"
                                + (endpointIndex == 0 ? "" : " (backup endpoint \(endpointIndex))")))
            actions.append(.send(.endpoint, Message.agentInfo(software: AgentVersion.software, buildTarget: BuildInfo.target,
                                                              serial: factory?.serial ?? "", mac: factory?.mac ?? "",
                                                              model: factory?.model ?? "").encoded()))
            return .authenticated
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
        case (.streampointAssign(let id, let host, let port, let ticket, let tls, let backup), _, true):
            let main = StreampointOffer(streampointID: id, host: host, port: port, ticket: ticket, tls: tls)
            guard let mainAssignment = Self.usable(main), backup.map({ Self.usable($0) != nil }) ?? true else {
                actions.append(.send(.endpoint, Message.error(code: .malformedFrame,
                                                              message: "unusable STREAMPOINT_ASSIGN").encoded()))
                actions += fail("endpoint sent an unusable streampoint assignment", now: now, random: entropy.uint64())
                return nil
            }
            return .assigned(StreampointPlan(main: mainAssignment, backup: backup.flatMap { Self.usable($0) }))
        case (.configPush(let list, let recheckSeconds), _, true):
            return adoptPushedConfig(list, recheckSeconds: recheckSeconds, now: now, actions: &actions)
        case (.statsRequest, _, true):
            return .statsRequested
        case (.command(let id, let kind, let argument), _, true):
            return .command(commandID: id, kind: kind, argument: argument)
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
        identityIsIssued = true
        _ = adoptReachedAddress()
        var actions: [AgentAction] = [.log(.info, "endpoint: unit \(factory.serial) activated as \(agentID)")]
        actions += link.shutDown()
        link.backoff.reset()
        actions += dialIfDue(now: now)
        return actions
    }

    /// Forgets an issued identity (the endpoint's `reset`): the unit activates
    /// again. False when there is nothing to activate with.
    mutating func forgetIdentity() -> Bool {
        guard factory != nil else { return false }
        identity = nil
        verifier = []
        identityIsIssued = false
        return true
    }

    static func usable(_ offer: StreampointOffer) -> StreampointAssignment? {
        guard isValidAgentID(offer.streampointID), !offer.host.isEmpty, offer.port != 0 else { return nil }
        return StreampointAssignment(streampointID: offer.streampointID,
                                     address: ServerAddress(host: offer.host, port: offer.port, tls: offer.tls), ticket: offer.ticket)
    }

    /// A pushed list replaces the current one (an empty list means "use the
    /// config's"). Plain-TCP entries need the local config's consent, as for
    /// streampoints; known addresses carry over for endpoints still listed.
    private mutating func adoptPushedConfig(_ list: [EndpointEntry], recheckSeconds: UInt16, now: Int64,
                                            actions: inout [AgentAction]) -> EndpointEvent? {
        var pushed: [ServerAddress] = []
        for entry in list {
            guard !entry.host.isEmpty, entry.port != 0 else { continue }
            guard entry.tls || allowPlaintext else {
                actions.append(.log(.warn, "endpoint: pushed endpoint \(entry.host):\(entry.port) is plain TCP and allow_plaintext is off; ignored"))
                continue
            }
            var address = ServerAddress(host: entry.host, port: entry.port, tls: entry.tls)
            for old in endpoints where old == address { address.knownAddress = old.knownAddress }
            pushed.append(address)
        }
        let newList = pushed.isEmpty ? configEndpoints : pushed
        let current = currentEndpoint
        var changed = newList != endpoints || endpointsWerePushed != !pushed.isEmpty
        endpoints = newList
        endpointsWerePushed = !pushed.isEmpty
        endpointIndex = endpoints.firstIndex(of: current) ?? endpoints.count
        if recheckSeconds > 0 {
            let ms = Int64(max(recheckSeconds, 1)) * 1000
            changed = changed || ms != mainRecheckMs || !mainRecheckWasPushed
            mainRecheckMs = ms
            mainRecheckWasPushed = true
        }
        // Not in the new list at all: we stay until a check finds the main one.
        probe.schedule(at: endpointIndex == 0 ? nil : now + (endpointIndex < endpoints.count ? mainRecheckMs : 0))
        if endpointIndex >= endpoints.count { endpointIndex = endpoints.count - 1 }
        guard changed else { return nil }
        actions.append(.log(.info, "endpoint: endpoint list now " + endpoints.map { $0.display }.joined(separator: ", ")
                            + " (main \(endpoints[0].display); checked every \(formatMillis(mainRecheckMs)) while on a backup)"))
        return .stateChanged
    }

    /// The endpoint chooses the timers; values outside sane bounds are clamped so
    /// a misconfigured server cannot make us spin or never notice a dead peer.
    private mutating func adoptTimers(heartbeatSeconds: UInt16, peerTimeoutSeconds: UInt16) {
        let heartbeat = Int64(min(max(heartbeatSeconds, 1), 300))
        let timeout = Int64(min(max(peerTimeoutSeconds, 3), 900))
        link.heartbeatMs = heartbeat * 1000
        link.peerTimeoutMs = max(timeout, heartbeat * 2) * 1000
    }

    mutating func requestTicket(now: Int64) -> [AgentAction] { send(.ticketRequest, now: now) }

    mutating func send(_ message: Message, now: Int64) -> [AgentAction] {
        guard link.isUp else { return [] }
        link.noteSent(now: now)
        return [.send(.endpoint, message.encoded())]
    }

    var nextDeadline: Int64? {
        guard let probeAt = probe.deadline else { return link.deadline }
        return link.deadline.map { $0 < probeAt ? $0 : probeAt } ?? probeAt
    }

    mutating func tick<E: EntropySource>(now: Int64, entropy: inout E) -> [AgentAction] {
        var actions: [AgentAction]
        switch link.tick(now: now) {
        case .nothing:
            actions = dialIfDue(now: now)
        case .sendHeartbeat:
            link.noteSent(now: now)
            actions = [.send(.endpoint, Message.heartbeat.encoded())]
        case .expired(let reason):
            return fail(reason, now: now, random: entropy.uint64(), wentSilent: link.isUp)
        }
        if link.isUp, let main = endpoints.first {
            actions += probe.tick(now: now, main: main, recheckMs: mainRecheckMs)
        }
        return actions
    }

    // MARK: - Checking the main endpoint from a backup

    mutating func probeConnected(now: Int64) -> [AgentAction] { probe.connected() }

    mutating func probeReceived(_ bytes: [UInt8], now: Int64) -> [AgentAction] {
        switch probe.received(bytes, now: now, recheckMs: mainRecheckMs) {
        case .waiting:
            return []
        case .failed(let actions):
            return actions
        case .mainAnswers(let actions):
            // Move back: an ordered close of the backup link, then the main one at once.
            var all = actions + [.log(.info, "endpoint: main endpoint \(endpoints[0].display) answers again; moving back to it")]
            all += link.shutDown()
            endpointIndex = 0
            link.backoff.reset()
            all += dialIfDue(now: now)
            return all
        }
    }

    mutating func probeFailed(_ reason: String, now: Int64) -> [AgentAction] {
        probe.failed(reason, now: now, recheckMs: mainRecheckMs, closeSocket: false)
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
