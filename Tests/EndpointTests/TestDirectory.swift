@testable import EndpointCore
import CamProtocol

/// An in-memory endpoint for driving EndpointLinkStateMachine: a real Registry
/// and FailureLimiter, a manual clock and counting "random" bytes. It performs
/// the actions the way EndpointLinkHandler does, minus the sockets.
final class TestEndpoint: EndpointDirectory {
    var registry = Registry()
    var limiter: FailureLimiter
    var now: Double = 1000
    var online = Set<String>()
    private var counter: UInt8 = 0

    init(limits: FailureLimiter.Configuration = .init()) {
        limiter = FailureLimiter(configuration: limits)
    }

    func verifier(agentID: String) -> [UInt8]? { registry.verifier(for: agentID) }
    func revocation(agentID: String) -> Revocation? { registry.revocation(ofAgent: agentID) }
    func activationVerifier(serial: String) -> [UInt8]? { registry.activationVerifier(serial: serial) }
    func block(for subject: AttemptSubject) -> FailureLimiter.Block? { limiter.block(for: subject, now: now) }

    func randomBytes(_ count: Int) -> [UInt8] {
        counter &+= 1
        return (0..<count).map { UInt8(truncatingIfNeeded: Int(counter) &* 31 &+ $0) }
    }

    /// A fresh link from `host`, upgraded and past HELLO.
    func link(from host: String = "192.0.2.10") -> EndpointLinkStateMachine {
        var machine = EndpointLinkStateMachine(
            configuration: .init(serverName: "test", heartbeatSeconds: 10, peerTimeoutSeconds: 30), remoteHost: host)
        _ = machine.upgradeReceived(path: ProtocolConstants.upgradePath)
        _ = machine.messageReceived(.hello(version: 1, role: .endpointControl, software: "test"), directory: self)
        return machine
    }

    /// What EndpointLinkHandler does with the actions that change state; returns
    /// the action that finally goes to the wire.
    func perform(_ action: EndpointLinkStateMachine.Action, on machine: inout EndpointLinkStateMachine,
                 newKey: [UInt8]) -> EndpointLinkStateMachine.Action {
        switch action {
        case .attemptFailed(let subject, _, _):
            limiter.recordFailure(subject, now: now)
            return action
        case .activationProved(let subject, let request):
            limiter.recordSuccess(subject, now: now)
            let outcome = registry.activate(request, newKey: newKey, isOnline: { self.online.contains($0) }, at: "2025-01-01T00:00:00Z")
            return machine.activationDecided(outcome)
        case .authenticated(let agentID, _):
            limiter.recordSuccess(AttemptSubject(kind: .agent, id: agentID, host: machine.remoteHost), now: now)
            return action
        default:
            return action
        }
    }
}

/// A factory unit as its firmware would hold it.
struct FactoryUnit {
    var serial = "XM0001"
    var secret: [UInt8] = (0..<32).map { UInt8(0x40 + $0) }
    var verifier: [UInt8] { Activation.verifier(activationSecret: secret, serial: serial) }

    /// Runs ACTIVATE_BEGIN/AUTH_CHALLENGE/ACTIVATE_PROOF and the endpoint's decision.
    /// Returns the final action and the nonces used.
    func activate(against endpoint: TestEndpoint, from host: String = "192.0.2.10", newKey: [UInt8],
                  proofOverride: [UInt8]? = nil) -> (action: EndpointLinkStateMachine.Action, clientNonce: [UInt8], serverNonce: [UInt8]) {
        var machine = endpoint.link(from: host)
        let clientNonce = [UInt8](repeating: 0xC1, count: 32)
        let challenge = machine.messageReceived(.activateBegin(serial: serial, mac: "00:12:34:56:78:9a", model: "IPC-3518",
                                                               firmware: "V5.0", clientNonce: clientNonce), directory: endpoint)
        guard case .send(.authChallenge(let serverNonce)) = challenge else { return (challenge, clientNonce, []) }
        let proof = proofOverride ?? Activation.clientProof(verifier: verifier, serial: serial,
                                                            clientNonce: clientNonce, serverNonce: serverNonce)
        let action = machine.messageReceived(.activateProof(proof: proof), directory: endpoint)
        return (endpoint.perform(action, on: &machine, newKey: newKey), clientNonce, serverNonce)
    }
}

/// Runs AUTH_BEGIN/AUTH_CHALLENGE/AUTH_PROOF with `key` for `agentID`.
func authenticate(_ agentID: String, key: [UInt8], against endpoint: TestEndpoint,
                  from host: String = "192.0.2.10") -> EndpointLinkStateMachine.Action {
    var machine = endpoint.link(from: host)
    let clientNonce = [UInt8](repeating: 0xA5, count: 32)
    let challenge = machine.messageReceived(.authBegin(agentID: agentID, clientNonce: clientNonce), directory: endpoint)
    guard case .send(.authChallenge(let serverNonce)) = challenge else { return challenge }
    let verifier = Authentication.verifier(deviceKey: key, agentID: agentID)
    let proof = Authentication.clientProof(verifier: verifier, agentID: agentID, clientNonce: clientNonce, serverNonce: serverNonce)
    let action = machine.messageReceived(.authProof(proof: proof), directory: endpoint)
    return endpoint.perform(action, on: &machine, newKey: [])
}
