import CamProtocol
import Testing

let allMessages: [Message] = [
    .hello(version: 1, role: .endpointControl, software: "camagent/0.1.0"),
    .hello(version: 1, role: .tunnelData, software: ""),
    .helloAck(version: 1, server: "endpoint"),
    .error(code: .authenticationFailed, message: "authentication failed"),
    .heartbeat,
    .authBegin(agentID: "cam-1", clientNonce: [UInt8](repeating: 1, count: 32)),
    .authChallenge(serverNonce: [UInt8](repeating: 2, count: 32)),
    .authProof(proof: [UInt8](repeating: 3, count: 32)),
    .authOK(serverProof: [UInt8](repeating: 4, count: 32), heartbeatSeconds: 10, peerTimeoutSeconds: 30),
    .agentInfo(software: "camagent/0.1.0", buildTarget: "arm-linux (embedded)"),
    .activateBegin(serial: "XM123", mac: "00:11:22:33:44:55", model: "IPC-1", firmware: "1.0", clientNonce: [UInt8](repeating: 8, count: 32)),
    .activateProof(proof: [UInt8](repeating: 9, count: 32)),
    .activated(serverProof: [UInt8](repeating: 10, count: 32), agentID: "cam-XM123", wrappedKey: [UInt8](repeating: 11, count: 32)),
    .streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: [1, 2, 3]),
    .streampointAssign(streampointID: "sp2", host: "sp2.example.net", port: 443, ticket: [4], tls: true),
    .ticketRequest,
    .streamRegister(ticket: [5, 6], targets: [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 8554),
                                              TunnelTarget(name: "http", host: "127.0.0.1", port: 80)]),
    .streamRegister(ticket: [7], targets: [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554, path: "/Streaming/Channels/101"),
                                           TunnelTarget(name: "http", host: "127.0.0.1", port: 80)]),
    .streamRegistered(streampointID: "sp1"),
    .tunnelOpen(tunnelID: 0xDEADBEEF, host: "127.0.0.1", port: 8554, bindToken: [UInt8](repeating: 5, count: 16)),
    .tunnelOpenFailed(tunnelID: 7, code: .targetNotAllowed, message: "no"),
    .tunnelBind(tunnelID: 7, bindToken: [UInt8](repeating: 6, count: 16)),
    .agentInfo(software: "camagent/0.1.0", buildTarget: "arm-linux (embedded)", serial: "XM1", mac: "00:11:22:33:44:55", model: "IPC"),
    .streampointAssign(streampointID: "sp1", host: "sp1.example.net", port: 7100, ticket: [1], tls: true,
                       backup: StreampointOffer(streampointID: "sp2", host: "sp2.example.net", port: 7200, ticket: [2, 3], tls: true)),
    .configPush(endpoints: [EndpointEntry(host: "ep1.example.net", port: 443, tls: true),
                            EndpointEntry(host: "10.0.0.2", port: 80, tls: false)], mainRecheckSeconds: 300),
    .configPush(endpoints: [], mainRecheckSeconds: 0),
    .agentStats(StatsReport(reason: .streampointChanged, uptimeSeconds: 3600, secondsSinceChange: 12, endpoint: "ep1.example.net:443",
                            streampointID: "sp2", streampointState: .registered, localAddress: "192.168.1.10",
                            counters: [(StatCounter.tunnelsRequested.rawValue, 3), (StatCounter.bytesToStreampoint.rawValue, 1 << 40), (200, 7)])),
    .statsRequest,
    .command(commandID: 9, kind: .disconnect, argument: 30),
    .command(commandID: 10, kind: .reset, argument: 0),
    .commandResult(commandID: 9, code: nil, message: "disconnecting for 30 s"),
    .commandResult(commandID: 11, code: .unexpectedMessage, message: "reboot_command is not configured"),
]

@Suite struct FramingTests {
    @Test(arguments: allMessages)
    func messageRoundTrips(_ message: Message) throws {
        var decoder = FrameDecoder()
        decoder.append(message.encoded())
        let frame = try #require(try decoder.nextFrame())
        #expect(try Message(frame: frame) == message)
        #expect(try decoder.nextFrame() == nil)
    }

    @Test func everyMessageKindIsCovered() {
        var kinds = Set<UInt8>()
        for message in allMessages { kinds.insert(message.kind.rawValue) }
        for code in UInt8.min...UInt8.max where Message.Kind(rawValue: code) != nil {
            #expect(kinds.contains(code), "message type \(code) has no round-trip case")
        }
    }

    @Test func olderStreampointAssignWithoutBackupStillDecodes() throws {
        // The layout before the flags byte and the backup were appended.
        var w = ByteWriter()
        w.string("sp1"); w.string("h"); w.u16(7); w.blob([1])
        let message = try Message(frame: Frame(type: Message.Kind.streampointAssign.rawValue, payload: w.bytes))
        #expect(message == .streampointAssign(streampointID: "sp1", host: "h", port: 7, ticket: [1], tls: false, backup: nil))
    }

    @Test func unknownCommandDecodesSoItCanBeAnswered() throws {
        var w = ByteWriter()
        w.u32(5); w.u8(0x77); w.u32(0)
        #expect(try Message(frame: Frame(type: Message.Kind.command.rawValue, payload: w.bytes))
                == .command(commandID: 5, kind: .unknown, argument: 0))
    }

    @Test func configPushWithTooManyEndpointsIsRejected() {
        var w = ByteWriter()
        w.u8(UInt8(ProtocolConstants.maxEndpoints + 1))
        #expect(throws: ProtocolError.self) {
            try Message(frame: Frame(type: Message.Kind.configPush.rawValue, payload: w.bytes))
        }
    }

    @Test func byteAtATimeFeedingYieldsEveryFrameOnce() throws {
        var stream: [UInt8] = []
        for message in allMessages { stream += message.encoded() }
        var decoder = FrameDecoder()
        var decoded: [Message] = []
        for byte in stream {
            decoder.append(byte)
            while let frame = try decoder.nextFrame() { decoded.append(try Message(frame: frame)) }
        }
        #expect(decoded == allMessages)
        #expect(decoder.bufferedCount == 0)
    }

    @Test func oversizeLengthIsRejectedFromTheHeaderAlone() throws {
        var decoder = FrameDecoder()
        decoder.append([0x01, 0x00, 0xFF, 0xFF])  // 65535-byte payload announced, none sent
        #expect(throws: ProtocolError.frameTooLarge(length: 65535)) { try decoder.nextFrame() }
        var atLimit = FrameDecoder()
        atLimit.append([0x04, 0x00, 0x20, 0x00])  // exactly 8192: allowed, waits for payload
        #expect(try atLimit.nextFrame() == nil)
        var overLimit = FrameDecoder()
        overLimit.append([0x04, 0x00, 0x20, 0x01])
        #expect(throws: ProtocolError.frameTooLarge(length: 8193)) { try overLimit.nextFrame() }
    }

    @Test func garbageIsRejected() {
        var decoder = FrameDecoder()
        decoder.append(Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: ProtocolError.self) { try decoder.nextFrame() }
        #expect(throws: ProtocolError.unknownMessageType(0x7F)) { try Message(frame: Frame(type: 0x7F, payload: [])) }
        #expect(throws: ProtocolError.truncated(message: "AUTH_BEGIN")) {
            try Message(frame: Frame(type: Message.Kind.authBegin.rawValue, payload: [0, 1, 0x41]))
        }
        #expect(throws: ProtocolError.badMagic) {
            try Message(frame: Frame(type: 0x01, payload: [0x58, 0x58, 0x58, 0x58, 1, 1, 0, 0]))
        }
        #expect(throws: ProtocolError.invalidUTF8) {
            try Message(frame: Frame(type: Message.Kind.streamRegistered.rawValue, payload: [0, 2, 0xC3, 0x28]))
        }
    }

    @Test func wrongHelloVersionIsReportedReadably() {
        var frame = Message.hello(version: 1, role: .endpointControl, software: "x").frame()
        frame.payload[4] = 2
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try Message(frame: frame) }
        #expect(ProtocolError.unsupportedVersion(2).description.contains("version 2"))
        #expect(ProtocolError.unsupportedVersion(2).code == .unsupportedVersion)
    }

    @Test func trailingBytesAreIgnoredForForwardCompatibility() throws {
        var frame = Message.streamRegistered(streampointID: "sp1").frame()
        frame.payload += [9, 9, 9]
        #expect(try Message(frame: frame) == .streamRegistered(streampointID: "sp1"))
    }
}

@Suite struct HTTPUpgradeTests {
    @Test func requestRoundTrips() throws {
        var accumulator = HTTPHeadAccumulator()
        let bytes = HTTPUpgrade.request(host: "127.0.0.1:7000") + [0xAA, 0xBB]
        let (head, rest) = try #require(try accumulator.feed(bytes))
        #expect(rest == [0xAA, 0xBB])
        let request = try parseUpgradeRequest(head)
        #expect(request.path == "/camagent/v1")
        #expect(request.host == "127.0.0.1:7000")
    }

    @Test func headSplitAcrossFeedsIsFound() throws {
        var accumulator = HTTPHeadAccumulator()
        let bytes = HTTPUpgrade.switchingResponse() + [1, 2]
        var result: (head: [UInt8], rest: [UInt8])?
        for byte in bytes where result == nil { result = try accumulator.feed([byte]) }
        let (head, _) = try #require(result)
        try parseUpgradeResponse(head)
    }

    @Test func refusalsAndGarbage() throws {
        #expect(throws: ProtocolError.upgradeRejected(status: 404)) {
            try parseUpgradeResponse(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
        }
        #expect(throws: ProtocolError.self) { try parseUpgradeResponse(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
        #expect(throws: ProtocolError.self) {
            try parseUpgradeRequest(Array("GET /camagent/v1 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))  // no Upgrade
        }
        #expect(throws: ProtocolError.self) {
            try parseUpgradeRequest(Array("POST /camagent/v1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: camagent/1\r\n\r\n".utf8))
        }
        #expect(throws: ProtocolError.self) { try parseUpgradeRequest([0xFF, 0xFE, 13, 10, 13, 10]) }
        let request = try parseUpgradeRequest(Array("GET /camagent/v1 HTTP/1.1\r\nconnection: keep-alive, Upgrade\r\nUPGRADE: camagent/1\r\n\r\n".utf8))
        #expect(request.host == nil)
    }

    @Test func endlessHeadIsCutOff() {
        var accumulator = HTTPHeadAccumulator()
        let line = Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8)
        #expect(throws: ProtocolError.upgradeHeadersTooLarge) {
            for _ in 0..<100 { _ = try accumulator.feed(line) }
        }
    }
}
