import CamProtocol
import Testing

/// Peer-supplied text in logs (issue 14, finding 9) and host fields from the wire.
@Suite struct PeerTextTests {
    /// The line an independent server forged through an unescaped ERROR text.
    static let forgedError = "bye\n2026-12-02T10:00:00Z info camagent: endpoint: authenticated to 203.0.113.9:443 as cam-0001; retrying in 843 ms"

    @Test func aForgedLineStaysInsideItsOwnLine() {
        let line = LogText.line("endpoint refused us: shutting-down: " + Self.forgedError)
        #expect(!line.utf8.contains(0x0A))
        #expect(line.hasPrefix("endpoint refused us: shutting-down: bye\\x0a2026-12-02T10:00:00Z info camagent:"))
    }

    @Test func controlBytesEscapeAndDelIsAControlByte() {
        #expect(LogText.line("a\u{0}b\rc\u{1B}[2Jd\u{7F}e\tf") == "a\\x00b\\x0dc\\x1b[2Jd\\x7fe\\x09f")
    }

    /// Bidirectional overrides and C1 controls are non-ASCII: written as bytes, never rendered.
    @Test func nonASCIIIsWrittenAsBytes() {
        #expect(LogText.line("evil\u{202E}txt") == "evil\\xe2\\x80\\xaetxt")
        #expect(LogText.line("caf\u{E9}") == "caf\\xc3\\xa9")
    }

    @Test func aPeerFieldEscapesBackslashesSoItsEscapesAreNotAmbiguous() {
        #expect(LogText.peer("a\\x0ab") == "a\\x5cx0ab")
        // The line sink does not escape them again.
        #expect(LogText.line("field: " + LogText.peer("a\\b\n")) == "field: a\\x5cb\\x0a")
    }

    @Test func aPeerFieldIsCappedAndSaysHowMuchWasCut() {
        let long = String(repeating: "A", count: 5000)
        let shown = LogText.peer(long)
        #expect(shown.hasPrefix(String(repeating: "A", count: LogText.peerFieldLimit)))
        #expect(shown.hasSuffix("...(\(5000 - LogText.peerFieldLimit) more bytes)"))
        // An escape is never cut in half.
        let controls = LogText.peer(String(repeating: "\n", count: 100))
        #expect(controls.hasPrefix(String(repeating: "\\x0a", count: LogText.peerFieldLimit / 4)))
        #expect(controls.hasSuffix("...(\(100 - LogText.peerFieldLimit / 4) more bytes)"))
    }

    @Test func aLineIsCapped() {
        let line = LogText.line(String(repeating: "x", count: 10_000))
        #expect(line.utf8.count < LogText.lineLimit + 40)
    }

    @Test func hostRules() {
        for good in ["127.0.0.1", "::1", "fe80::1", "sp1.example.net", "cam_01-a", String(repeating: "a", count: 253)] {
            #expect(HostSyntax.isValid(good), "\(good)")
        }
        for bad in ["", "[::1]", "sp1.example.net\nX", "a b", "host\u{0}", "caf\u{E9}.net", "a/b", "a@b",
                    String(repeating: "a", count: 254)] {
            #expect(!HostSyntax.isValid(bad), "\(LogText.peer(bad))")
        }
    }

    /// A host with a newline (or brackets, or a NUL) in any host field of a
    /// message is a protocol violation, before it can reach a resolver or a log.
    @Test func hostFieldsFromTheWireFollowTheHostRules() throws {
        let token = [UInt8](repeating: 5, count: 16)
        let hostile: [Message] = [
            .streampointAssign(streampointID: "sp1", host: "sp1.example.net\nforged", port: 7100, ticket: [1]),
            .streampointAssign(streampointID: "sp1", host: "sp1.example.net", port: 7100, ticket: [1], tls: true,
                               backup: StreampointOffer(streampointID: "sp2", host: "[::1]", port: 7200, ticket: [2], tls: true)),
            .tunnelOpen(tunnelID: 1, host: "127.0.0.1\u{0}", port: 554, bindToken: token),
            .tunnelOpen(tunnelID: 1, host: "[::1]", port: 554, bindToken: token),
            .configPush(endpoints: [EndpointEntry(host: "ep 1", port: 443, tls: true)], mainRecheckSeconds: 60),
            .streamRegister(ticket: [1], targets: [TunnelTarget(name: "rtsp", host: "", port: 554)]),
        ]
        for message in hostile {
            var decoder = FrameDecoder()
            decoder.append(message.encoded())
            let frame = try #require(try decoder.nextFrame())
            #expect(throws: ProtocolError.self) { _ = try Message(frame: frame) }
            do {
                _ = try Message(frame: frame)
            } catch {
                guard case .invalidHost = error else { Issue.record("\(message.name): \(error)"); continue }
                #expect(error.code == .malformedFrame)
                #expect(error.description.contains("not a host name"))
            }
        }
        // An unbracketed IPv6 host is fine.
        var decoder = FrameDecoder()
        decoder.append(Message.tunnelOpen(tunnelID: 1, host: "::1", port: 554, bindToken: token).encoded())
        let frame = try #require(try decoder.nextFrame())
        #expect(try Message(frame: frame) == .tunnelOpen(tunnelID: 1, host: "::1", port: 554, bindToken: token))
    }
}

/// What docs/PROTOCOL.md §2.3 says of the server's 101, as the agent checks it.
@Suite struct UpgradeResponseRulesTests {
    private func head(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) }

    @Test func connectionHeaderIsNotRequiredInThe101() throws {
        try parseUpgradeResponse(head(["HTTP/1.1 101 Switching Protocols", "Upgrade: camagent/1"]))
        try parseUpgradeResponse(head(["HTTP/1.1 101 Switching Protocols", "Connection: close", "Upgrade: camagent/1"]))
    }

    @Test func headerNameIsCaseInsensitiveButTheTokenIsNot() throws {
        try parseUpgradeResponse(head(["HTTP/1.1 101 Switching Protocols", "UPGRADE:  camagent/1 "]))
        #expect(throws: ProtocolError.self) {
            try parseUpgradeResponse(head(["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Upgrade: Camagent/1"]))
        }
    }
}
