import CamCore
import CamProtocol

/// Deterministic randomness for tests (splitmix64).
struct SeededEntropy: EntropySource {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            z ^= z >> 31
            for shift in stride(from: 0, to: 64, by: 8) where out.count < count {
                out.append(UInt8(truncatingIfNeeded: z >> UInt64(shift)))
            }
        }
        return out
    }
}

/// Entropy whose every 64-bit draw is `value` (for exact backoff arithmetic).
struct FixedEntropy: EntropySource {
    var value: UInt64

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (7 - $0 % 8))) }
    }
}

let testKey = Array(0..<32).map { UInt8($0) }

func testConfig(targets: [TunnelTarget] = [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 8554)]) -> AgentConfig {
    var config = AgentConfig(agentID: "cam-1", deviceKey: testKey,
                             endpoints: [ServerAddress(host: "127.0.0.1", port: 7000), ServerAddress(host: "127.0.0.2", port: 7000)],
                             targets: targets)
    config.maxTunnels = 2
    config.allowPlaintext = true  // most tests assign plain streampoints; TLS policy has its own tests
    config.caFile = "/etc/camagent/ca.pem"  // never read by the core; TLS servers need one to be dialled
    return config
}

/// Decodes what the agent sent on a link: the upgrade head (if any), then frames.
func sentMessages(_ actions: [AgentAction], on link: LinkID) -> [Message] {
    var messages: [Message] = []
    for case .send(let id, var bytes) in actions where id == link {
        if bytes.starts(with: Array("GET ".utf8)) {
            var accumulator = HTTPHeadAccumulator()
            guard let (_, rest) = try? accumulator.feed(bytes) else { continue }
            bytes = rest
        }
        var decoder = FrameDecoder()
        decoder.append(bytes)
        while let frame = try? decoder.nextFrame(), let message = try? Message(frame: frame) {
            messages.append(message)
        }
    }
    return messages
}

func connects(_ actions: [AgentAction]) -> [(LinkID, ServerAddress)] {
    var result: [(LinkID, ServerAddress)] = []
    for case .connect(let id, let address) in actions { result.append((id, address)) }
    return result
}

func closes(_ actions: [AgentAction]) -> [LinkID] {
    var result: [LinkID] = []
    for case .close(let id) in actions { result.append(id) }
    return result
}

func logs(_ actions: [AgentAction]) -> [String] {
    var result: [String] = []
    for case .log(_, let text) in actions { result.append(text) }
    return result
}

/// Plays the server side of the protocol against an AgentCore, with a manual clock.
struct Harness {
    var core: AgentCore<SeededEntropy>
    var now: Int64 = 1_000_000
    let verifier: [UInt8]
    let agentID: String
    let ticketKey = [UInt8](repeating: 0x55, count: 32)

    /// `issued`: an identity activation gave earlier (as if from the state file).
    init(config: AgentConfig = testConfig(), issued: AgentIdentity? = nil, seed: UInt64 = 1) {
        core = AgentCore(config: config, state: AgentState(identity: issued), entropy: SeededEntropy(seed: seed))
        verifier = (config.identity ?? issued).map { Authentication.verifier(deviceKey: $0.deviceKey, agentID: $0.agentID) } ?? []
        agentID = (config.identity ?? issued)?.agentID ?? ""
    }

    mutating func advance(_ ms: Int64) -> [AgentAction] {
        now += ms
        return core.tick(now: now)
    }

    /// Advances in 100 ms steps while the servers on `alive` send a heartbeat every 5 s.
    mutating func advance(_ ms: Int64, keepingAlive alive: [LinkID]) -> [AgentAction] {
        var actions: [AgentAction] = []
        var elapsed: Int64 = 0
        while elapsed < ms {
            elapsed += 100
            actions += advance(100)
            if elapsed % 5000 == 0 { for link in alive { actions += receive(link, [.heartbeat]) } }
        }
        return actions
    }

    mutating func receive(_ link: LinkID, _ messages: [Message], upgrade: Bool = false) -> [AgentAction] {
        var bytes = upgrade ? HTTPUpgrade.switchingResponse() : []
        for message in messages { bytes += message.encoded() }
        return core.received(link, bytes: bytes, now: now)
    }

    /// Runs the endpoint handshake to the authenticated state and returns the actions of the last step.
    /// `dialled: false` when the core already dialled (a reconnect), `alreadyConnected` when TCP is up too.
    mutating func authenticate(serverProofOverride: [UInt8]? = nil, dialled: Bool = true,
                               alreadyConnected: Bool = false) -> [AgentAction] {
        if dialled && !alreadyConnected { _ = core.start(now: now) }
        if !alreadyConnected {
            let hello = core.connected(.endpoint, now: now)
            precondition(sentMessages(hello, on: .endpoint).first?.kind == .hello)
        }
        let begin = receive(.endpoint, [.helloAck(version: 1, server: "test")], upgrade: true)
        guard case .authBegin(_, let clientNonce) = sentMessages(begin, on: .endpoint).first else {
            preconditionFailure("no AUTH_BEGIN")
        }
        let serverNonce = [UInt8](repeating: 0xAB, count: 32)
        _ = receive(.endpoint, [.authChallenge(serverNonce: serverNonce)])
        let proof = serverProofOverride ?? Authentication.serverProof(verifier: verifier, agentID: agentID,
                                                                      clientNonce: clientNonce, serverNonce: serverNonce)
        return receive(.endpoint, [.authOK(serverProof: proof, heartbeatSeconds: 10, peerTimeoutSeconds: 30)])
    }

    mutating func ticket(expiresAt: UInt64 = 2_000_000_000) -> [UInt8] {
        Ticket(agentID: "cam-1", streampointID: "sp1", expiresAt: expiresAt, nonce: [UInt8](repeating: 1, count: 16))
            .signed(key: ticketKey)
    }

    /// Authenticated, assigned sp1, registered.
    mutating func registerWithStreampoint() -> [AgentAction] {
        _ = authenticate()
        _ = receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: ticket())])
        _ = core.connected(.streampoint(.a), now: now)
        _ = receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
        return receive(.streampoint(.a), [.streamRegistered(streampointID: "sp1")])
    }
}
