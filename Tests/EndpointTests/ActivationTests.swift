@testable import EndpointCore
import CamProtocol
import Foundation
import Testing

@Suite struct EndpointActivationTests {
    let unit = FactoryUnit()
    let key1 = (0..<32).map { UInt8(0x90 &+ $0) }
    let key2 = (0..<32).map { UInt8(0x10 &+ $0) }

    func endpointWithUnit() throws -> TestEndpoint {
        let endpoint = TestEndpoint()
        try endpoint.registry.addUnit(serial: unit.serial, activationSecret: unit.secret, agentID: nil, model: "IPC-3518", mac: nil)
        return endpoint
    }

    @Test func activationIssuesAWrappedKeyWhoseVerifierIsStored() throws {
        let endpoint = try endpointWithUnit()
        let (action, clientNonce, serverNonce) = unit.activate(against: endpoint, newKey: key1)
        guard case .activated(let agentID, let serial, let reactivated, .activated(let serverProof, let sentID, let wrapped)) = action else {
            Issue.record("not activated: \(action)"); return
        }
        #expect(agentID == "cam-XM0001" && sentID == agentID && serial == "XM0001" && !reactivated)
        // The unit checks the server proof and unwraps the key exactly as the agent does.
        #expect(serverProof == Activation.serverProof(verifier: unit.verifier, serial: unit.serial,
                                                      clientNonce: clientNonce, serverNonce: serverNonce))
        let pad = Activation.keyPad(verifier: unit.verifier, serial: unit.serial, clientNonce: clientNonce, serverNonce: serverNonce)
        let unwrapped = Activation.xor(wrapped, pad)
        #expect(unwrapped == key1)
        #expect(wrapped != key1)
        // Only the verifier of the key is stored, under the unit's agent id.
        #expect(endpoint.registry.verifier(for: agentID) == Authentication.verifier(deviceKey: key1, agentID: agentID))
        let stored = try String(decoding: endpoint.registry.encoded(), as: UTF8.self)
        #expect(!stored.contains(Hex.encode(key1)))
        #expect(!stored.contains(Hex.encode(unit.secret)))
        let record = try #require(endpoint.registry.units["XM0001"])
        #expect(record.state == .active && record.activations == 1 && record.lastActivation != nil)
        #expect(record.mac == "00:12:34:56:78:9a")  // learnt from ACTIVATE_BEGIN
        #expect(!record.cloneSuspected)
        // And the unit can now log in with the key.
        guard case .authenticated(let id, .authOK) = authenticate(agentID, key: unwrapped, against: endpoint) else {
            Issue.record("the issued key does not authenticate"); return
        }
        #expect(id == agentID)
    }

    @Test func wrongActivationProofFailsAndCounts() throws {
        let endpoint = try endpointWithUnit()
        let (action, _, _) = unit.activate(against: endpoint, newKey: key1, proofOverride: [UInt8](repeating: 7, count: 32))
        guard case .attemptFailed(let subject, let text, let reason) = action else { Issue.record("\(action)"); return }
        #expect(text == "activation failed")
        #expect(subject.idKey == "serial:XM0001")
        #expect(reason.contains("wrong activation proof"))
        #expect(endpoint.registry.units["XM0001"]?.state == .new)
        #expect(endpoint.registry.agents.isEmpty)
        #expect(endpoint.limiter.tableSizes.ids == 1)
    }

    @Test func unknownSerialStillGetsAChallengeThenTheSameFailure() throws {
        let endpoint = try endpointWithUnit()
        var machine = endpoint.link()
        let challenge = machine.messageReceived(.activateBegin(serial: "NOPE42", mac: "", model: "", firmware: "",
                                                               clientNonce: [UInt8](repeating: 1, count: 32)), directory: endpoint)
        guard case .send(.authChallenge(let nonce)) = challenge else { Issue.record("\(challenge)"); return }
        #expect(nonce.count == 32)
        // Even a proof made with the real unit's secret for that serial fails: the serial is unknown.
        let impostor = FactoryUnit(serial: "NOPE42", secret: unit.secret)
        let proof = Activation.clientProof(verifier: impostor.verifier, serial: "NOPE42",
                                           clientNonce: [UInt8](repeating: 1, count: 32), serverNonce: nonce)
        let action = machine.messageReceived(.activateProof(proof: proof), directory: endpoint)
        guard case .attemptFailed(_, let text, let reason) = action else { Issue.record("\(action)"); return }
        #expect(text == "activation failed")  // the same text as a wrong proof
        #expect(reason.contains("unknown unit NOPE42"))
    }

    @Test func revokedUnitHearsTheReasonOnlyAfterACorrectProof() throws {
        let endpoint = try endpointWithUnit()
        #expect(endpoint.registry.revoke(agentID: "cam-XM0001", reason: "reported stolen", at: "2025-01-01T00:00:00Z") == .changed)

        let (wrong, _, _) = unit.activate(against: endpoint, newKey: key1, proofOverride: [UInt8](repeating: 0, count: 32))
        guard case .attemptFailed(_, let text, _) = wrong else { Issue.record("\(wrong)"); return }
        #expect(text == "activation failed")
        #expect(!"\(wrong)".contains("stolen"))

        let (right, _, _) = unit.activate(against: endpoint, newKey: key1)
        #expect(right.isError(.revoked, containing: "agent revoked by operator: reported stolen"))
        #expect(endpoint.registry.agents["cam-XM0001"] == nil)  // no key issued
        #expect(endpoint.registry.units["XM0001"]?.activations == 0)
    }

    @Test func revokedAgentHearsTheReasonOnlyAfterACorrectProof() throws {
        let endpoint = try endpointWithUnit()
        _ = unit.activate(against: endpoint, newKey: key1)
        #expect(endpoint.registry.revoke(agentID: "cam-XM0001", reason: "decommissioned", at: "2025-01-01T00:00:00Z") == .changed)

        let wrong = authenticate("cam-XM0001", key: key2, against: endpoint)
        guard case .attemptFailed(_, let text, _) = wrong else { Issue.record("\(wrong)"); return }
        #expect(text == "authentication failed")
        #expect(!"\(wrong)".contains("decommissioned"))

        let right = authenticate("cam-XM0001", key: key1, against: endpoint)
        #expect(right.isError(.revoked, containing: "agent revoked by operator: decommissioned"))

        // Unrevoked, it gets in again; the unit is active again, not new.
        #expect(endpoint.registry.unrevoke(agentID: "cam-XM0001") == .changed)
        #expect(endpoint.registry.units["XM0001"]?.state == .active)
        guard case .authenticated = authenticate("cam-XM0001", key: key1, against: endpoint) else { Issue.record("still refused"); return }
    }

    @Test func cloneOfAnOnlineUnitGetsIdentityConflictAndIsFlagged() throws {
        let endpoint = try endpointWithUnit()
        _ = unit.activate(against: endpoint, newKey: key1)
        endpoint.online.insert("cam-XM0001")

        let (action, _, _) = unit.activate(against: endpoint, from: "198.51.100.7", newKey: key2)
        #expect(action.isError(.identityConflict, containing: "serial XM0001 is already online from another unit"))
        let record = try #require(endpoint.registry.units["XM0001"])
        #expect(record.cloneSuspected)
        #expect(record.activations == 1)
        // The online unit is undisturbed: its key still works, the clone's does not.
        #expect(endpoint.registry.verifier(for: "cam-XM0001") == Authentication.verifier(deviceKey: key1, agentID: "cam-XM0001"))
    }

    @Test func reactivationWhileOfflineIssuesANewKeyAndTheOldOneStopsWorking() throws {
        let endpoint = try endpointWithUnit()
        _ = unit.activate(against: endpoint, newKey: key1)
        guard case .authenticated = authenticate("cam-XM0001", key: key1, against: endpoint) else { Issue.record("first key refused"); return }

        // Factory reset: the unit lost its state file and activates again while offline.
        let (again, clientNonce, serverNonce) = unit.activate(against: endpoint, newKey: key2)
        guard case .activated(_, _, let reactivated, .activated(_, _, let wrapped)) = again else { Issue.record("\(again)"); return }
        #expect(reactivated)
        let pad = Activation.keyPad(verifier: unit.verifier, serial: unit.serial, clientNonce: clientNonce, serverNonce: serverNonce)
        #expect(Activation.xor(wrapped, pad) == key2)
        #expect(endpoint.registry.units["XM0001"]?.activations == 2)
        #expect(endpoint.registry.units["XM0001"]?.cloneSuspected == false)

        guard case .attemptFailed(_, let text, _) = authenticate("cam-XM0001", key: key1, against: endpoint) else {
            Issue.record("the old key still authenticates"); return
        }
        #expect(text == "authentication failed")
        guard case .authenticated = authenticate("cam-XM0001", key: key2, against: endpoint) else { Issue.record("new key refused"); return }
    }

    @Test func activationKeepsTheAgentsStreampointAssignment() throws {
        let endpoint = try endpointWithUnit()
        endpoint.registry.upsert(AgentRecord(id: "cam-XM0001", verifier: String(repeating: "0", count: 64), streampoint: "sp2"))
        _ = unit.activate(against: endpoint, newKey: key1)
        #expect(endpoint.registry.agents["cam-XM0001"]?.streampoint == "sp2")
    }

    @Test func theIssuedKeyNeverShowsInAnActionsDescription() throws {
        let endpoint = try endpointWithUnit()
        var registry = endpoint.registry
        let outcome = registry.activate(ActivationRequest(serial: "XM0001", mac: "", model: "", firmware: ""),
                                        newKey: key1, isOnline: { _ in false }, at: "t")
        #expect(!"\(outcome)".contains(Hex.encode(key1)))
        #expect(!String(reflecting: outcome).contains("144, 145"))  // key1 bytes as an array
    }

    @Test func activateMessagesAfterAuthenticationAreUnexpected() throws {
        let endpoint = try endpointWithUnit()
        var machine = endpoint.link()
        _ = machine.messageReceived(.activateProof(proof: [UInt8](repeating: 0, count: 32)), directory: endpoint)
        #expect(machine.stateName == "closed")
    }
}

extension EndpointLinkStateMachine.Action {
    func isError(_ expected: ErrorCode, containing text: String) -> Bool {
        guard case .closeWithError(let code, let message, _) = self else { return false }
        return code == expected && message.contains(text)
    }
}

/// The activation vector of docs/PROTOCOL.md §11.8, so the document and the code cannot drift apart.
@Suite struct ActivationVectorTests {
    @Test func protocolDocumentVector() {
        let secret = (0..<32).map { UInt8($0) }
        let clientNonce = (0x20..<0x40).map { UInt8($0) }
        let serverNonce = (0x40..<0x60).map { UInt8($0) }
        let key = (0x80..<0xA0).map { UInt8($0) }
        let v = Activation.verifier(activationSecret: secret, serial: "XM0001")
        #expect(Hex.encode(v) == "61850226525fdb018ea89a1653487df52edbc5bfc49e4669176b9985e7c6817f")
        #expect(Hex.encode(Activation.clientProof(verifier: v, serial: "XM0001", clientNonce: clientNonce, serverNonce: serverNonce))
                == "416cfa61e6ced329d0a25b99d8ea7e852863ea141db85871d521e158fd359062")
        #expect(Hex.encode(Activation.serverProof(verifier: v, serial: "XM0001", clientNonce: clientNonce, serverNonce: serverNonce))
                == "7d9655f4876707e0d32757bd39df0c315eb804b206a8b32e631ee09e54740601")
        let pad = Activation.keyPad(verifier: v, serial: "XM0001", clientNonce: clientNonce, serverNonce: serverNonce)
        #expect(Hex.encode(pad) == "96de5f0cc878600ab6b9cec44ff75650b93c3964bc6b3e9ee2e216bc02ac4554")
        #expect(Hex.encode(Activation.xor(key, pad)) == "165fdd8f4cfde68d3e30444fc37ad8df29adabf728fea8097a7b8c279e31dbcb")
        let begin = Message.activateBegin(serial: "XM0001", mac: "00:12:34:56:78:9a", model: "IPC-3518", firmware: "V5.0",
                                          clientNonce: clientNonce).encoded()
        #expect(Hex.encode(begin) == "1500004b" + "0006" + Hex.encode(Array("XM0001".utf8)) + "0011" + Hex.encode(Array("00:12:34:56:78:9a".utf8))
                + "0008" + Hex.encode(Array("IPC-3518".utf8)) + "0004" + Hex.encode(Array("V5.0".utf8)) + Hex.encode(clientNonce))
        let activated = Message.activated(serverProof: Activation.serverProof(verifier: v, serial: "XM0001", clientNonce: clientNonce,
                                                                              serverNonce: serverNonce),
                                          agentID: "cam-XM0001", wrappedKey: Activation.xor(key, pad)).encoded()
        #expect(Hex.encode(activated) == "1700004e7d9655f4876707e0d32757bd39df0c315eb804b206a8b32e631ee09e54740601000a"
                + Hex.encode(Array("cam-XM0001".utf8)) + "0020165fdd8f4cfde68d3e30444fc37ad8df29adabf728fea8097a7b8c279e31dbcb")
        #expect(Hex.encode(Message.error(code: .revoked, message: "agent revoked by operator: stolen").encoded()).hasPrefix("03000025000c0021"))
        #expect(Hex.encode(Message.error(code: .rateLimited, message: "too many failed attempts; retry later").encoded()).hasPrefix("03000029000a0025"))
    }
}
