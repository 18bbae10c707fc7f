import CamProtocol

/// Where the endpoint sent us: the streampoint to register with and the ticket to present.
public struct StreampointAssignment: Equatable, Sendable {
    public var streampointID: String
    public var address: ServerAddress
    public var ticket: [UInt8]
}

/// What the endpoint link reports up to AgentCore.
enum EndpointEvent: Equatable, Sendable, ControlLinkEvent {
    /// The endpoint broke the protocol (counted in AGENT_STATS).
    case protocolError
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
struct EndpointSession: Sendable, ControlLinkOwner {
    enum Handshake: Equatable, Sendable {
        case awaitingHelloAck
        case awaitingChallenge(clientNonce: [UInt8])
        case awaitingAuthOK(clientNonce: [UInt8], serverNonce: [UInt8])
        case awaitingActivationChallenge(clientNonce: [UInt8])
        case awaitingActivated(clientNonce: [UInt8], serverNonce: [UInt8])
    }

    var link: ControlLink
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

    mutating func dialIfDue(now: Int64) -> Output<EndpointEvent> {
        guard link.mayDial(now: now) else { return Output() }
        handshake = .awaitingHelloAck
        var out = Output<EndpointEvent>()
        out += link.dial(endpoints[endpointIndex], now: now)
        return out
    }

    /// The first dial after a cold boot waits until `time`; see AgentCore.start.
    mutating func holdFirstDial(until time: Int64) { link.holdDown(until: time) }

    mutating func connected(now: Int64, addresses: SocketAddresses?) -> Output<EndpointEvent> {
        reachedAddress = nil
        if let addresses {
            localAddress = addresses.local
            if isNumericAddress(addresses.peer) { reachedAddress = addresses.peer }
        }
        var out = Output<EndpointEvent>()
        out += link.connected(now: now)
        return out
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

    mutating func fail<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E,
                                         closeSocket: Bool) -> Output<EndpointEvent> {
        drop(reason, now: now, entropy: &entropy, closeSocket: closeSocket, wentSilent: false)
    }

    /// A failure moves on to the next endpoint in the list, after backoff.
    /// After a working session was closed, start again from the main endpoint
    /// (it may just have restarted); after one went silent, move on: the path
    /// to it is likely gone, and the main-endpoint check brings us back later.
    private mutating func drop<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E, closeSocket: Bool,
                                                 wentSilent: Bool) -> Output<EndpointEvent> {
        let wasUp = link.isUp
        var out = Output<EndpointEvent>()
        out += link.fail(reason, now: now, entropy: &entropy, closeSocket: closeSocket)
        endpointIndex = wasUp && !wentSilent ? 0 : (endpointIndex + 1) % endpoints.count
        out += cancelProbe()
        return out
    }

    mutating func expired<E: EntropySource>(_ reason: String, now: Int64, entropy: inout E) -> Output<EndpointEvent> {
        drop(reason, now: now, entropy: &entropy, closeSocket: true, wentSilent: link.isUp)
    }

    /// Closes the link without counting a failure, and stays away until
    /// `until` (nil: dial again at once).
    mutating func leave(until: Int64?) -> Output<EndpointEvent> {
        var out = Output<EndpointEvent>()
        out += link.shutDown()
        out += cancelProbe()
        endpointIndex = 0
        link.backoff.reset()
        if let until { link.holdDown(until: until) }
        return out
    }

    private mutating func cancelProbe() -> Output<EndpointEvent> {
        Output(probe.cancel().actions)
    }

    mutating func handle<E: EntropySource>(_ message: Message, now: Int64, entropy: inout E) -> Output<EndpointEvent> {
        var out = Output<EndpointEvent>()
        switch (message, handshake, link.isUp) {
        case (.error(let code, let text), _, _):
            if code == .revoked {
                // Retrying quickly cannot help; only the operator can undo this.
                link.backoff.saturate()
            }
            out += fail("endpoint refused us: \(code.name): \(LogText.peer(text))", now: now, entropy: &entropy)
        case (.helloAck, .awaitingHelloAck, false):
            let nonce = entropy.bytes(ProtocolConstants.nonceSize)
            if let identity {
                handshake = .awaitingChallenge(clientNonce: nonce)
                out.append(.send(.endpoint, Message.authBegin(agentID: identity.agentID, clientNonce: nonce).encoded()))
            } else if let factory {
                handshake = .awaitingActivationChallenge(clientNonce: nonce)
                out.append(.log(.info, "endpoint: activating unit \(factory.serial) at \(currentEndpoint.display)"))
                out.append(.send(.endpoint, Message.activateBegin(serial: factory.serial, mac: factory.mac, model: factory.model,
                                                                  firmware: factory.firmware, clientNonce: nonce).encoded()))
            }
        case (.authChallenge(let serverNonce), .awaitingChallenge(let clientNonce), false):
            guard let identity else { break }
            let proof = Authentication.clientProof(verifier: verifier, agentID: identity.agentID,
                                                   clientNonce: clientNonce, serverNonce: serverNonce)
            handshake = .awaitingAuthOK(clientNonce: clientNonce, serverNonce: serverNonce)
            out.append(.send(.endpoint, Message.authProof(proof: proof).encoded()))
        case (.authOK(let serverProof, let heartbeat, let timeout), .awaitingAuthOK(let clientNonce, let serverNonce), false):
            guard let identity else { break }
            let expected = Authentication.serverProof(verifier: verifier, agentID: identity.agentID,
                                                      clientNonce: clientNonce, serverNonce: serverNonce)
            guard constantTimeEqual(serverProof, expected) else {
                out.append(.send(.endpoint, Message.error(code: .authenticationFailed,
                                                          message: "server proof does not verify").encoded()))
                out += fail("endpoint could not prove it knows our key; refusing it", now: now, entropy: &entropy)
                break
            }
            adoptTimers(heartbeatSeconds: heartbeat, peerTimeoutSeconds: timeout)
            link.markUp(now: now)
            probe.schedule(at: endpointIndex == 0 || endpoints.count < 2 ? nil : now + mainRecheckMs)
            out.append(.log(.info, "endpoint: authenticated to \(currentEndpoint.display) as \(identity.agentID)"
                            + (endpointIndex == 0 ? "" : " (backup endpoint \(endpointIndex))")))
            out.append(.send(.endpoint, Message.agentInfo(software: AgentVersion.software, buildTarget: BuildInfo.target,
                                                          serial: factory?.serial ?? "", mac: factory?.mac ?? "",
                                                          model: factory?.model ?? "").encoded()))
            out.emit(.authenticated)
        case (.authChallenge(let serverNonce), .awaitingActivationChallenge(let clientNonce), false):
            guard let factory else { break }
            let activationVerifier = Activation.verifier(activationSecret: factory.activationSecret, serial: factory.serial)
            let proof = Activation.clientProof(verifier: activationVerifier, serial: factory.serial,
                                               clientNonce: clientNonce, serverNonce: serverNonce)
            handshake = .awaitingActivated(clientNonce: clientNonce, serverNonce: serverNonce)
            out.append(.send(.endpoint, Message.activateProof(proof: proof).encoded()))
        case (.activated(let serverProof, let agentID, let wrappedKey), .awaitingActivated(let clientNonce, let serverNonce), false):
            guard let factory else { break }
            out += finishActivation(factory: factory, serverProof: serverProof, agentID: agentID, wrappedKey: wrappedKey,
                                    clientNonce: clientNonce, serverNonce: serverNonce, now: now, entropy: &entropy)
        case (.heartbeat, _, true):
            break
        case (.streampointAssign(let id, let host, let port, let ticket, let tls, let backup), _, true):
            let main = StreampointOffer(streampointID: id, host: host, port: port, ticket: ticket, tls: tls)
            guard let mainAssignment = Self.usable(main), backup.map({ Self.usable($0) != nil }) ?? true else {
                out.append(.send(.endpoint, Message.error(code: .malformedFrame,
                                                          message: "unusable STREAMPOINT_ASSIGN").encoded()))
                out += fail("endpoint sent an unusable streampoint assignment", now: now, entropy: &entropy)
                break
            }
            out.emit(.assigned(StreampointPlan(main: mainAssignment, backup: backup.flatMap { Self.usable($0) })))
        case (.configPush(let list, let recheckSeconds), _, true):
            out += adoptPushedConfig(list, recheckSeconds: recheckSeconds, now: now)
        case (.statsRequest, _, true):
            out.emit(.statsRequested)
        case (.command(let id, let kind, let argument), _, true):
            out.emit(.command(commandID: id, kind: kind, argument: argument))
        default:
            out += refuseUnexpected(message, now: now, entropy: &entropy)
        }
        return out
    }

    var heartbeatMs: Int64 { link.heartbeatMs }
    var peerTimeoutMs: Int64 { link.peerTimeoutMs }

    /// Checks the endpoint's proof, unwraps the device key and hands the new
    /// identity to the runtime to store; the link is then closed and redialled
    /// at once to authenticate with that identity.
    private mutating func finishActivation<E: EntropySource>(factory: FactoryIdentity, serverProof: [UInt8], agentID: String,
                                                             wrappedKey: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8],
                                                             now: Int64, entropy: inout E) -> Output<EndpointEvent> {
        let activationVerifier = Activation.verifier(activationSecret: factory.activationSecret, serial: factory.serial)
        let expected = Activation.serverProof(verifier: activationVerifier, serial: factory.serial,
                                              clientNonce: clientNonce, serverNonce: serverNonce)
        guard constantTimeEqual(serverProof, expected) else {
            return Output([.send(.endpoint, Message.error(code: .authenticationFailed, message: "server proof does not verify").encoded())])
                + fail("endpoint could not prove it knows our activation secret; refusing it", now: now, entropy: &entropy)
        }
        guard Identifier.isValid(agentID), wrappedKey.count == SHA256.digestSize else {
            return Output([.send(.endpoint, Message.error(code: .malformedFrame, message: "unusable ACTIVATED").encoded())])
                + fail("endpoint sent an unusable identity", now: now, entropy: &entropy)
        }
        let pad = Activation.keyPad(verifier: activationVerifier, serial: factory.serial,
                                    clientNonce: clientNonce, serverNonce: serverNonce)
        let identity = AgentIdentity(agentID: agentID, deviceKey: Activation.xor(wrappedKey, pad))
        adopt(identity)
        identityIsIssued = true
        _ = adoptReachedAddress()
        var out = Output<EndpointEvent>([.log(.info, "endpoint: unit \(factory.serial) activated as \(agentID)")])
        out += link.shutDown()
        link.backoff.reset()
        out += dialIfDue(now: now)
        return out
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
        guard Identifier.isValid(offer.streampointID), !offer.host.isEmpty, offer.port != 0 else { return nil }
        return StreampointAssignment(streampointID: offer.streampointID,
                                     address: ServerAddress(host: offer.host, port: offer.port, tls: offer.tls), ticket: offer.ticket)
    }

    /// A pushed list replaces the current one (an empty list means "use the
    /// config's"). Plain-TCP entries need the local config's consent, as for
    /// streampoints; known addresses carry over for endpoints still listed.
    private mutating func adoptPushedConfig(_ list: [EndpointEntry], recheckSeconds: UInt16, now: Int64) -> Output<EndpointEvent> {
        var out = Output<EndpointEvent>()
        var pushed: [ServerAddress] = []
        for entry in list {
            guard !entry.host.isEmpty, entry.port != 0 else { continue }
            guard entry.tls || allowPlaintext else {
                out.append(.log(.warn, "endpoint: pushed endpoint \(entry.host):\(entry.port) is plain TCP and allow_plaintext is off; ignored"))
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
        guard changed else { return out }
        out.append(.log(.info, "endpoint: endpoint list now " + ServerAddress.displayList(endpoints)
                        + " (main \(endpoints[0].display); checked every \(formatMillis(mainRecheckMs)) while on a backup)"))
        out.emit(.stateChanged)
        return out
    }

    /// The endpoint chooses the timers; values outside sane bounds are clamped so
    /// a misconfigured server cannot make us spin or never notice a dead peer.
    private mutating func adoptTimers(heartbeatSeconds: UInt16, peerTimeoutSeconds: UInt16) {
        let heartbeatRange = Tunables.heartbeatSecondsRange
        let timeoutRange = Tunables.peerTimeoutSecondsRange
        let heartbeat = Int64(min(max(heartbeatSeconds, heartbeatRange.lowerBound), heartbeatRange.upperBound))
        let timeout = Int64(min(max(peerTimeoutSeconds, timeoutRange.lowerBound), timeoutRange.upperBound))
        link.heartbeatMs = heartbeat * 1000
        link.peerTimeoutMs = max(timeout, heartbeat * 2) * 1000
    }

    mutating func requestTicket(now: Int64) -> Output<EndpointEvent> { send(.ticketRequest, now: now) }

    var nextDeadline: Int64? {
        guard let probeAt = probe.deadline else { return link.deadline }
        return link.deadline.map { $0 < probeAt ? $0 : probeAt } ?? probeAt
    }

    mutating func tick<E: EntropySource>(now: Int64, entropy: inout E) -> Output<EndpointEvent> {
        var out = tickLink(now: now, entropy: &entropy)
        if link.isUp, let main = endpoints.first {
            out += probeOutput(probe.tick(now: now, main: main, recheckMs: mainRecheckMs), now: now)
        }
        return out
    }

    // MARK: - Checking the main endpoint from a backup

    mutating func probeConnected(now: Int64) -> Output<EndpointEvent> {
        probeOutput(probe.connected(now: now), now: now)
    }

    mutating func probeReceived(_ bytes: [UInt8], now: Int64) -> Output<EndpointEvent> {
        probeOutput(probe.received(bytes, now: now, recheckMs: mainRecheckMs), now: now)
    }

    mutating func probeFailed(_ reason: String, now: Int64) -> Output<EndpointEvent> {
        probeOutput(probe.failed(reason, now: now, recheckMs: mainRecheckMs, closeSocket: false), now: now)
    }

    private mutating func probeOutput(_ step: Output<MainEndpointProbe.Event>, now: Int64) -> Output<EndpointEvent> {
        var out = Output<EndpointEvent>(step.actions)
        for event in step.events {
            switch event {
            case .mainAnswers:
                // Move back: an ordered close of the backup link, then the main one at once.
                out.append(.log(.info, "endpoint: main endpoint \(endpoints[0].display) answers again; moving back to it"))
                out += link.shutDown()
                endpointIndex = 0
                link.backoff.reset()
                out += dialIfDue(now: now)
            }
        }
        return out
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
