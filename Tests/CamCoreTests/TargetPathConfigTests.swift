import CamCore
import CamProtocol
import Testing

/// `target = name=host:port[/path]` (DESIGN §9, "Targets with paths").
@Suite struct TargetPathConfigTests {
    private func config(_ targetLines: String) throws(ConfigError) -> AgentConfig {
        try ConfigParser.parse("""
            agent_id = cam-1
            device_key = 000102030405060708090a0b0c0d0e0f
            endpoint = http://127.0.0.1:7000
            allow_plaintext = yes
            \(targetLines)
            """)
    }

    private func problem(_ targetLine: String) -> String? {
        do {
            _ = try config(targetLine)
            return nil
        } catch {
            return error.problem
        }
    }

    @Test func aPathIsKeptAndTheAllowlistStaysHostAndPort() throws {
        let parsed = try config("""
            target = rtsp=127.0.0.1:554/Streaming/Channels/101
            target = rtsp-sub=127.0.0.1:554/Streaming/Channels/102
            target = http=127.0.0.1:80
            """)
        #expect(parsed.targets == [
            TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554, path: "/Streaming/Channels/101"),
            TunnelTarget(name: "rtsp-sub", host: "127.0.0.1", port: 554, path: "/Streaming/Channels/102"),
            TunnelTarget(name: "http", host: "127.0.0.1", port: 80),
        ])
        #expect(parsed.allowsTarget(host: "127.0.0.1", port: 554))
    }

    @Test func queriesEqualsSignsBracketsAndTheRootAreAccepted() throws {
        let parsed = try config("""
            target = dahua=192.168.1.10:554/cam/realmonitor?channel=1&subtype=0
            target = v6=[::1]:8554/live/main
            target = root=127.0.0.1:8554/
            """)
        #expect(parsed.targets.map(\.path) == ["/cam/realmonitor?channel=1&subtype=0", "/live/main", "/"])
        #expect(parsed.targets[1].host == "::1" && parsed.targets[1].port == 8554)
    }

    @Test func aLongestPathOf128BytesIsAcceptedAnd129Refused() throws {
        let longest = "/" + String(repeating: "a", count: 127)
        #expect(try config("target = rtsp=127.0.0.1:554\(longest)").targets[0].path == longest)
        #expect(problem("target = rtsp=127.0.0.1:554\(longest)b") == "RTSP path must be printable ASCII without spaces, at most 128 bytes")
    }

    @Test func unprintableOrNonASCIIPathsAreRefusedWithoutEchoingThem() {
        let message = "RTSP path must be printable ASCII without spaces, at most 128 bytes"
        #expect(problem("target = rtsp=127.0.0.1:554/a b") == message)
        #expect(problem("target = rtsp=127.0.0.1:554/a\tb") == message)
        #expect(problem("target = rtsp=127.0.0.1:554/kamera/\u{00E9}") == message)
        #expect(problem("target = rtsp=127.0.0.1:554/a\u{7F}") == message)
    }

    @Test func theHostAndPortAreStillRequiredBeforeThePath() {
        #expect(problem("target = rtsp=127.0.0.1/live") == "'127.0.0.1' is not host:port")
        #expect(problem("target = rtsp=/live") == "'' is not host:port")
        #expect(problem("target = rtsp=127.0.0.1:0/live") == "'127.0.0.1:0' is not host:port")
    }

    @Test func pathSyntaxRule() {
        #expect(RTSPPathSyntax.isValid("/"))
        #expect(RTSPPathSyntax.isValid("/Streaming/Channels/101?transportmode=unicast"))
        #expect(!RTSPPathSyntax.isValid(""))
        #expect(!RTSPPathSyntax.isValid("live"))
        #expect(!RTSPPathSyntax.isValid("/a\r\nCSeq: 9"))
    }
}
