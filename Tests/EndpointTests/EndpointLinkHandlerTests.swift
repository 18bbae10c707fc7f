import CamNIO
import CamProtocol
import Foundation
import NIOCore
import NIOEmbedded
import XCTest
@testable import EndpointCore

/// The endpoint's agent-link pipeline (EndpointState.initializeAgentLink: admission,
/// keepalive, decoder, EndpointLinkHandler) on EmbeddedChannels: bytes in, bytes
/// out, a manual clock, and a real SQLite registry answered on the loop itself.
final class EndpointLinkHandlerTests: XCTestCase {
    private let deviceKey = [UInt8](repeating: 0x5A, count: 32)
    private let ticketKey = [UInt8](repeating: 7, count: 32)
    private let clientNonce = [UInt8](repeating: 0xA5, count: 32)
    private let unit = FactoryUnit()
    private var loop: EmbeddedEventLoop!
    private var directory: URL!
    private var store: SQLRegistryStore!
    private var state: EndpointState!
    private var channels: [EmbeddedChannel] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("endpoint-link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLRegistryStore.open(.sqlite(path: directory.appendingPathComponent("registry.sqlite").path))
        var registry = Registry()
        registry.upsert(AgentRecord(id: "cam-1", verifier: Hex.encode(Authentication.verifier(deviceKey: deviceKey, agentID: "cam-1")),
                                    streampoint: nil))
        try registry.addUnit(serial: unit.serial, activationSecret: unit.secret, agentID: nil, model: "IPC", mac: nil)
        _ = try store.importRegistry(registry)
        loop = EmbeddedEventLoop()
    }

    override func tearDownWithError() throws {
        for channel in channels { _ = try? channel.finish() }
        channels = []
        state?.registryWorker.shutdown()
        try? loop.syncShutdownGracefully()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The state as `serve` builds it, its registry worker running each query on the loop.
    private func startEndpoint(maxPending: Int = 256, agentEndpoints: [EndpointEntry] = []) throws {
        let settings = EndpointState.Settings(
            endpointID: "ep-test", streampoints: try ["sp1=sp1.test:7101", "sp2=sp2.test:7102"].map { try StreampointInfo(argument: $0) },
            ticketKey: ticketKey, ticketLifetime: 300, serverName: "endpoint-test", heartbeatSeconds: 10, peerTimeoutSeconds: 30,
            agentEndpoints: agentEndpoints, mainRecheckSeconds: 0, maxPending: maxPending)
        state = EndpointState(eventLoop: loop, settings: settings, registryWorker: RegistryWorker(store: store, threads: 0))
        _ = state.refreshRegistry()
        loop.run()
        XCTAssertNotNil(state.registryGeneration, "the first registry load must have completed")
    }

    /// A connected channel from `port` with the endpoint's pipeline, as the listener accepts it.
    private func accept(port: Int = 40000) throws -> EmbeddedChannel {
        if state == nil { try startEndpoint() }
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: port)).wait()
        try state.initializeAgentLink(channel, tls: nil).wait()
        channels.append(channel)
        return channel
    }

    private func send(_ channel: EmbeddedChannel, _ bytes: [UInt8]) {
        // Writing to a link the handler has just closed throws: that is the outcome being tested.
        try? channel.writeInbound(ByteBuffer(bytes: bytes))
        loop.run()
    }

    private func send(_ channel: EmbeddedChannel, _ message: Message) {
        send(channel, message.encoded())
    }

    private func written(_ channel: EmbeddedChannel) -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            bytes += Array(buffer.readableBytesView)
        }
        return bytes
    }

    /// The 101 head and HELLO/HELLO_ACK.
    private func openControlLink(_ channel: EmbeddedChannel) throws {
        send(channel, HTTPUpgrade.request(host: "ep.test")
            + Message.hello(version: ProtocolConstants.version, role: .endpointControl, software: "test").encoded())
        let out = framesWritten(written(channel))
        XCTAssertEqual(out.httpHead?.hasPrefix("HTTP/1.1 101"), true, out.httpHead ?? "no HTTP head")
        XCTAssertEqual(out.messages, [.helloAck(version: ProtocolConstants.version, server: "endpoint-test")])
    }

    /// AUTH_BEGIN, then AUTH_PROOF computed with `key`; returns what came back after the challenge.
    private func login(_ channel: EmbeddedChannel, agentID: String = "cam-1", key: [UInt8]? = nil) throws -> [Message] {
        send(channel, .authBegin(agentID: agentID, clientNonce: clientNonce))
        let challenge = framesWritten(written(channel)).messages
        guard case .authChallenge(let serverNonce)? = challenge.first, challenge.count == 1 else {
            XCTFail("expected one AUTH_CHALLENGE, got \(challenge)")
            return challenge
        }
        let verifier = Authentication.verifier(deviceKey: key ?? deviceKey, agentID: agentID)
        send(channel, .authProof(proof: Authentication.clientProof(verifier: verifier, agentID: agentID,
                                                                   clientNonce: clientNonce, serverNonce: serverNonce)))
        return framesWritten(written(channel)).messages
    }

    private func loggedInChannel(port: Int = 40000) throws -> EmbeddedChannel {
        let channel = try accept(port: port)
        try openControlLink(channel)
        let reply = try login(channel)
        guard case .authOK? = reply.first else {
            XCTFail("expected AUTH_OK, got \(reply)")
            return channel
        }
        return channel
    }

    // MARK: login

    func testAKnownAgentLogsInAndIsSentToItsStreampointWithAValidTicket() throws {
        let channel = try accept()
        try openControlLink(channel)
        let reply = try login(channel)

        XCTAssertEqual(reply.count, 2, "\(reply)")
        guard case .authOK(let serverProof, let heartbeat, let peerTimeout)? = reply.first else {
            return XCTFail("expected AUTH_OK first, got \(reply)")
        }
        XCTAssertEqual(serverProof.count, 32)
        XCTAssertEqual(heartbeat, 10)
        XCTAssertEqual(peerTimeout, 30)
        guard case .streampointAssign(let id, let host, let port, let ticket, let tls, let backup)? = reply.last else {
            return XCTFail("expected STREAMPOINT_ASSIGN after AUTH_OK, got \(reply)")
        }
        XCTAssertEqual([id, host], ["sp1", "sp1.test"])
        XCTAssertEqual(port, 7101)
        XCTAssertFalse(tls)
        XCTAssertEqual(backup?.streampointID, "sp2")
        let now = UInt64(Date().timeIntervalSince1970)
        let verified = try Ticket.verify(ticket, key: ticketKey, streampointID: "sp1", now: now)
        XCTAssertEqual(verified.agentID, "cam-1")

        XCTAssertTrue(channel.isActive)
        XCTAssertTrue(state.isOnline("cam-1"))
        XCTAssertEqual(try store.presence(agentID: "cam-1")?.endpointID, "ep-test")
    }

    func testTheServerProofIsTheOneOnlyTheHolderOfTheVerifierCanCompute() throws {
        let channel = try accept()
        try openControlLink(channel)
        send(channel, .authBegin(agentID: "cam-1", clientNonce: clientNonce))
        guard case .authChallenge(let serverNonce)? = framesWritten(written(channel)).messages.first else {
            return XCTFail("no AUTH_CHALLENGE")
        }
        let verifier = Authentication.verifier(deviceKey: deviceKey, agentID: "cam-1")
        send(channel, .authProof(proof: Authentication.clientProof(verifier: verifier, agentID: "cam-1",
                                                                   clientNonce: clientNonce, serverNonce: serverNonce)))
        guard case .authOK(let serverProof, _, _)? = framesWritten(written(channel)).messages.first else {
            return XCTFail("no AUTH_OK")
        }
        XCTAssertEqual(serverProof, Authentication.serverProof(verifier: verifier, agentID: "cam-1",
                                                               clientNonce: clientNonce, serverNonce: serverNonce))
    }

    func testAWrongProofAndAnUnknownAgentGetTheSameRefusalAndCountAsFailures() throws {
        let wrong = try accept(port: 40000)
        try openControlLink(wrong)
        let wrongReply = try login(wrong, key: [UInt8](repeating: 1, count: 32))
        let unknown = try accept(port: 40001)
        try openControlLink(unknown)
        let unknownReply = try login(unknown, agentID: "cam-404")

        let refusal = Message.error(code: .authenticationFailed, message: "authentication failed")
        XCTAssertEqual(wrongReply, [refusal])
        XCTAssertEqual(unknownReply, [refusal], "an unknown id must look exactly like a wrong proof")
        XCTAssertFalse(wrong.isActive)
        XCTAssertFalse(unknown.isActive)
        XCTAssertFalse(state.isOnline("cam-1"))
        XCTAssertNil(try store.presence(agentID: "cam-1"))
        XCTAssertEqual(state.admission.failures.tableSizes.ids, 2)
        XCTAssertEqual(state.admission.failures.tableSizes.addresses, 1)
    }

    func testRepeatedFailuresFromOneAddressAreRefusedWithoutAChallenge() throws {
        try startEndpoint()
        for port in 0..<10 {
            let channel = try accept(port: 41000 + port)
            try openControlLink(channel)
            _ = try login(channel, key: [UInt8](repeating: 1, count: 32))
        }
        let channel = try accept(port: 41100)
        try openControlLink(channel)
        send(channel, .authBegin(agentID: "cam-1", clientNonce: clientNonce))
        XCTAssertEqual(framesWritten(written(channel)).messages,
                       [.error(code: .rateLimited, message: "too many failed attempts; retry later")])
        XCTAssertFalse(channel.isActive)
    }

    func testARevokedAgentIsToldSoOnlyAfterACorrectProof() throws {
        _ = try store.revoke(agentID: "cam-1", reason: "reported stolen", at: "2026-01-01T00:00:00Z")
        let channel = try accept()
        try openControlLink(channel)
        let reply = try login(channel)
        guard case .error(let code, let text)? = reply.last, reply.count == 1 else {
            return XCTFail("expected one ERROR, got \(reply)")
        }
        XCTAssertEqual(code, .revoked)
        XCTAssertTrue(text.contains("reported stolen"), text)
        XCTAssertFalse(channel.isActive)
        XCTAssertFalse(state.isOnline("cam-1"))
    }

    func testARegistryThatIsAwayRefusesTheLoginRetryably() throws {
        try startEndpoint()
        state.registryProblem = "database unreachable (test)"
        let channel = try accept()
        try openControlLink(channel)
        send(channel, .authBegin(agentID: "cam-1", clientNonce: clientNonce))
        XCTAssertEqual(framesWritten(written(channel)).messages,
                       [.error(code: .internalError, message: "registry unavailable; retry later")])
        XCTAssertFalse(channel.isActive)
    }

    func testANewerSessionReplacesTheOlderOneAndKeepsItsPresence() throws {
        let first = try loggedInChannel(port: 40000)
        let second = try loggedInChannel(port: 40001)

        XCTAssertEqual(framesWritten(written(first)).messages.last,
                       .error(code: .shuttingDown, message: "replaced by a newer session"))
        XCTAssertFalse(first.isActive)
        XCTAssertTrue(second.isActive)
        XCTAssertTrue(state.isOnline("cam-1"))
        XCTAssertEqual(state.session(of: "cam-1")?.remote, "192.0.2.7:40001")
        XCTAssertEqual(try store.presence(agentID: "cam-1")?.endpointID, "ep-test",
                       "the old session's end must not release the new session's presence row")
    }

    func testTheEndpointListIsPushedAfterTheAssignment() throws {
        let entry = EndpointEntry(host: "ep2.test", port: 7000, tls: true)
        try startEndpoint(agentEndpoints: [entry])
        let channel = try accept()
        try openControlLink(channel)
        let reply = try login(channel)
        XCTAssertEqual(reply.count, 3, "\(reply)")
        XCTAssertEqual(reply.last, .configPush(endpoints: [entry], mainRecheckSeconds: 0))
    }

    // MARK: activation

    func testAFactoryUnitActivatesAndLogsInWithTheKeyItWasIssued() throws {
        let channel = try accept()
        try openControlLink(channel)
        send(channel, .activateBegin(serial: unit.serial, mac: "00:12:34:56:78:9a", model: "IPC", firmware: "V5", clientNonce: clientNonce))
        guard case .authChallenge(let serverNonce)? = framesWritten(written(channel)).messages.first else {
            return XCTFail("no AUTH_CHALLENGE for ACTIVATE_BEGIN")
        }
        send(channel, .activateProof(proof: Activation.clientProof(verifier: unit.verifier, serial: unit.serial,
                                                                   clientNonce: clientNonce, serverNonce: serverNonce)))
        let reply = framesWritten(written(channel)).messages
        guard case .activated(let serverProof, let agentID, let wrappedKey)? = reply.first, reply.count == 1 else {
            return XCTFail("expected ACTIVATED, got \(reply)")
        }
        XCTAssertEqual(serverProof, Activation.serverProof(verifier: unit.verifier, serial: unit.serial,
                                                           clientNonce: clientNonce, serverNonce: serverNonce))
        XCTAssertFalse(channel.isActive, "the link closes after ACTIVATED")
        let pad = Activation.keyPad(verifier: unit.verifier, serial: unit.serial, clientNonce: clientNonce, serverNonce: serverNonce)
        let issuedKey = Activation.xor(wrappedKey, pad)
        XCTAssertNotNil(try store.snapshot().registry.verifier(for: agentID), "the store must know the new identity")

        let again = try accept(port: 40001)
        try openControlLink(again)
        let login = try login(again, agentID: agentID, key: issuedKey)
        guard case .authOK? = login.first else { return XCTFail("the issued key must log in, got \(login)") }
        XCTAssertTrue(state.isOnline(agentID))
    }

    func testAWrongActivationProofIsRefusedAndTheUnitStaysNew() throws {
        let channel = try accept()
        try openControlLink(channel)
        send(channel, .activateBegin(serial: unit.serial, mac: "", model: "", firmware: "", clientNonce: clientNonce))
        _ = written(channel)
        send(channel, .activateProof(proof: [UInt8](repeating: 0, count: 32)))
        XCTAssertEqual(framesWritten(written(channel)).messages, [.error(code: .authenticationFailed, message: "activation failed")])
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(try store.snapshot().registry.units[unit.serial]?.state, .new)
    }

    // MARK: bad input

    func testAnUpgradeForAnotherPathGets404() throws {
        let channel = try accept()
        let request = String(decoding: HTTPUpgrade.request(host: "ep.test"), as: UTF8.self)
            .replacingOccurrences(of: ProtocolConstants.upgradePath, with: "/elsewhere")
        send(channel, Array(request.utf8))
        let out = String(decoding: written(channel), as: UTF8.self)
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 404"), out)
        XCTAssertFalse(channel.isActive)
    }

    func testGarbageInsteadOfTheUpgradeGetsHTTP400() throws {
        let channel = try accept()
        send(channel, Array("BREW /coffee HTCPCP/1.0\r\n\r\n".utf8))
        let out = String(decoding: written(channel), as: UTF8.self)
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 400"), out)
        XCTAssertFalse(channel.isActive)
    }

    func testBadFramesAreAnsweredWithErrorAndClose() throws {
        let cases: [(bytes: [UInt8], code: ErrorCode)] = [
            ([0x04, 0x01, 0, 0], .malformedFrame),              // HEARTBEAT with non-zero flags
            ([0x10, 0, 0x23, 0x28], .frameTooLarge),            // a 9000-byte AUTH_BEGIN, refused from its header
            (Message.authProof(proof: [UInt8](repeating: 0, count: 32)).encoded(), .unexpectedMessage),  // proof before AUTH_BEGIN
        ]
        for (index, bad) in cases.enumerated() {
            let channel = try accept(port: 42000 + index)
            try openControlLink(channel)
            send(channel, bad.bytes)
            guard case .error(let code, _)? = framesWritten(written(channel)).messages.last else {
                XCTFail("case \(index): expected an ERROR frame"); continue
            }
            XCTAssertEqual(code, bad.code, "case \(index)")
            XCTAssertFalse(channel.isActive, "case \(index)")
        }
    }

    func testAHelloForAnotherRoleIsRefused() throws {
        let channel = try accept()
        send(channel, HTTPUpgrade.request(host: "ep.test")
            + Message.hello(version: ProtocolConstants.version, role: .streampointControl, software: "test").encoded())
        guard case .error(let code, let text)? = framesWritten(written(channel)).messages.last else {
            return XCTFail("expected an ERROR frame")
        }
        XCTAssertEqual(code, .unexpectedMessage)
        XCTAssertTrue(text.contains("endpoint"), text)
        XCTAssertFalse(channel.isActive)
    }

    // MARK: timers and admission

    func testALinkThatDoesNotFinishItsHandshakeIsClosedAfterTenSeconds() throws {
        let channel = try accept()
        try openControlLink(channel)
        loop.advanceTime(by: .seconds(9))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(channel.isActive)
    }

    func testAnEstablishedLinkGetsHeartbeatsAndIsClosedAfterThePeerTimeout() throws {
        let channel = try loggedInChannel()
        _ = written(channel)
        // The handshake deadline no longer applies once logged in.
        loop.advanceTime(by: .seconds(10))
        XCTAssertEqual(framesWritten(written(channel)).messages, [.heartbeat])
        send(channel, .heartbeat)
        loop.advanceTime(by: .seconds(30))
        XCTAssertTrue(channel.isActive, "an agent heard 30 s ago is still within the 30 s peer timeout")
        XCTAssertTrue(state.isOnline("cam-1"))

        loop.advanceTime(by: .seconds(10))
        XCTAssertFalse(channel.isActive, "silent for 40 s with a 30 s peer timeout")
        XCTAssertFalse(state.isOnline("cam-1"))
        XCTAssertNil(try store.presence(agentID: "cam-1"), "a closed session releases its presence row")
    }

    func testMaxPendingRefusesLinksBeyondTheCapUntilOneLogsIn() throws {
        try startEndpoint(maxPending: 1)
        let first = try accept(port: 40000)
        let refused = try accept(port: 40001)
        XCTAssertFalse(refused.isActive, "a second link mid-handshake is over --max-pending 1")
        XCTAssertTrue(first.isActive)

        try openControlLink(first)
        _ = try login(first)
        XCTAssertTrue(state.isOnline("cam-1"))
        let next = try accept(port: 40002)
        XCTAssertTrue(next.isActive, "a logged-in link no longer counts against --max-pending")
    }
}

/// The frames in what the endpoint wrote to an agent link, after the HTTP head if there is one.
private func framesWritten(_ bytes: [UInt8]) -> (httpHead: String?, messages: [Message]) {
    var rest = bytes[...]
    var head: String?
    if bytes.starts(with: Array("HTTP/".utf8)) {
        let end = Array("\r\n\r\n".utf8)
        var i = bytes.startIndex
        while i + 4 <= bytes.endIndex, Array(bytes[i..<i + 4]) != end { i += 1 }
        head = String(decoding: bytes[..<min(i + 4, bytes.endIndex)], as: UTF8.self)
        rest = bytes[min(i + 4, bytes.endIndex)...]
    }
    var decoder = FrameDecoder()
    decoder.append(Array(rest))
    var messages: [Message] = []
    while let frame = try? decoder.nextFrame(), let message = try? Message(frame: frame) {
        messages.append(message)
    }
    return (head, messages)
}
