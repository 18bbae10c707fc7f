import CamProtocol
import Testing

/// The RTSP paths appended to STREAM_REGISTER (PROTOCOL §4.3): present only
/// when some target has one, one string per target, and invisible to a peer
/// that reads only the version-1 fields.
@Suite struct StreamRegisterPathTests {
    private let plain = [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554),
                         TunnelTarget(name: "http", host: "127.0.0.1", port: 80)]

    /// The version-1 payload, written by hand as an agent without paths sends it.
    private func versionOnePayload(ticket: [UInt8], targets: [TunnelTarget]) -> [UInt8] {
        var w = ByteWriter()
        w.blob(ticket)
        w.u8(UInt8(targets.count))
        for target in targets {
            w.string(target.name)
            w.string(target.host)
            w.u16(target.port)
        }
        return w.bytes
    }

    @Test func withoutPathsThePayloadIsExactlyTheVersionOneLayout() {
        let frame = Message.streamRegister(ticket: [1, 2], targets: plain).frame()
        #expect(frame.payload == versionOnePayload(ticket: [1, 2], targets: plain))
    }

    @Test func withPathsOneStringPerTargetFollowsInTargetOrder() throws {
        var targets = plain
        targets[0].path = "/Streaming/Channels/101"
        let frame = Message.streamRegister(ticket: [1, 2], targets: targets).frame()
        var expected = versionOnePayload(ticket: [1, 2], targets: plain)
        var section = ByteWriter()
        section.string("/Streaming/Channels/101")
        section.string("")
        expected += section.bytes
        #expect(frame.payload == expected)
        #expect(try Message(frame: frame) == .streamRegister(ticket: [1, 2], targets: targets))
    }

    @Test func aStreampointThatReadsOnlyTheVersionOneFieldsSeesTheSameTargets() throws {
        // What an older decoder does: it stops after the targets and ignores the rest (§3.3).
        var targets = plain
        targets[1].path = "/ignored"
        let payload = Message.streamRegister(ticket: [9], targets: targets).frame().payload
        var r = ByteReader(payload, context: "STREAM_REGISTER")
        #expect(try r.blob() == [9])
        #expect(try r.u8() == 2)
        for target in plain {
            #expect(try r.string() == target.name)
            #expect(try r.host() == target.host)
            #expect(try r.u16() == target.port)
        }
        #expect(r.remaining > 0)
    }

    @Test func aTruncatedPathSectionIsMalformed() {
        var targets = plain
        targets[0].path = "/main"
        var frame = Message.streamRegister(ticket: [1], targets: targets).frame()
        frame.payload.removeLast(1)  // the second (empty) path's length is cut in half
        #expect(throws: ProtocolError.truncated(message: "STREAM_REGISTER")) { try Message(frame: frame) }
    }

    @Test func sixteenTargetsWithLongestFieldsStillFitOneFrame() {
        let targets = (0..<ProtocolConstants.maxTargets).map { index in
            TunnelTarget(name: String(repeating: "n", count: 30) + "\(index % 10)\(index / 10)",
                         host: String(repeating: "h", count: HostSyntax.maxBytes), port: 65535,
                         path: "/" + String(repeating: "p", count: RTSPPathSyntax.maxBytes - 1))
        }
        let frame = Message.streamRegister(ticket: [UInt8](repeating: 0, count: 256), targets: targets).frame()
        #expect(frame.payload.count <= ProtocolConstants.maxPayload)
    }
}
