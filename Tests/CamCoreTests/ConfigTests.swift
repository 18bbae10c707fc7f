import CamCore
import CamProtocol
import Foundation
import Testing

@Suite struct ConfigTests {
    static func fixtures(_ kind: String) -> [URL] {
        let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(kind)
        return (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil))?
            .filter { $0.pathExtension == "conf" }.sorted { $0.path < $1.path } ?? []
    }

    @Test func fixturesArePresent() {
        #expect(Self.fixtures("valid").count >= 2)
        #expect(Self.fixtures("invalid").count >= 10)
    }

    @Test(arguments: ConfigTests.fixtures("valid"))
    func validFixtureParses(_ url: URL) throws {
        let config = try ConfigParser.parse(String(contentsOf: url, encoding: .utf8))
        #expect(!config.endpoints.isEmpty)
        #expect(!config.targets.isEmpty)
    }

    /// Each invalid fixture's first line says `# expect: <the exact error>`.
    @Test(arguments: ConfigTests.fixtures("invalid"))
    func invalidFixtureFailsWithItsExpectedMessage(_ url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        let firstLine = String(text.split(separator: "\n").first ?? "")
        let expected = firstLine.replacingOccurrences(of: "# expect: ", with: "")
        do {
            _ = try ConfigParser.parse(text)
            Issue.record("\(url.lastPathComponent) parsed but should fail with: \(expected)")
        } catch {
            #expect(error.description == expected, "\(url.lastPathComponent)")
        }
    }

    @Test func fullFixtureValues() throws {
        let url = Self.fixtures("valid").first { $0.lastPathComponent == "full.conf" }!
        let config = try ConfigParser.parse(String(contentsOf: url, encoding: .utf8))
        #expect(config.identity?.agentID == "XM_3518.unit-42")
        #expect(config.identity?.deviceKey.count == 16)
        #expect(config.endpoints == [ServerAddress(host: "endpoint.example.net", port: 443, tls: true), ServerAddress(host: "::1", port: 7443)])
        #expect(config.caFile == "/etc/camagent/ca.pem")
        #expect(config.allowPlaintext)
        #expect(config.targets == [TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554),
                                   TunnelTarget(name: "http", host: "127.0.0.1", port: 80)])
        #expect(config.logLevel == .debug)
        #expect(config.maxTunnels == 4)
        #expect(config.backoffInitialMs == 500)
        #expect(config.backoffMaxMs == 30000)
        #expect(config.endpoints[1].display == "[::1]:7443")
        #expect(config.mainEndpointRecheckMs == 120_000)
        #expect(config.switchGraceMs == 5000)
        #expect(config.bootJitterMs == 1500)
        #expect(config.rebootCommand == "/sbin/reboot -f")
    }

    @Test func allowlistIsExactHostAndPort() throws {
        let config = try ConfigParser.parse("""
            agent_id = cam-1
            device_key = 000102030405060708090a0b0c0d0e0f
            endpoint = http://127.0.0.1:7000
            allow_plaintext = yes
            target = rtsp=127.0.0.1:8554
            """)
        #expect(config.allowsTarget(host: "127.0.0.1", port: 8554))
        #expect(!config.allowsTarget(host: "127.0.0.1", port: 22))
        #expect(!config.allowsTarget(host: "192.168.1.1", port: 8554))
        #expect(!config.allowsTarget(host: "localhost", port: 8554))
    }
}

@Suite struct BackoffTests {
    @Test func ceilingDoublesUpToTheMaximum() {
        var backoff = Backoff(initialMs: 1000, maximumMs: 60000)
        var ceilings: [Int64] = []
        for _ in 0..<9 {
            ceilings.append(backoff.ceilingMs)
            var zero = FixedEntropy(value: 0)
            _ = backoff.nextDelayMs(entropy: &zero)
        }
        #expect(ceilings == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000])
        backoff.reset()
        #expect(backoff.ceilingMs == 1000)
    }

    @Test func delayStaysInTheUpperHalfOfTheCeiling() {
        for random: UInt64 in [0, 1, 499, 500, 501, 12345, .max] {
            var backoff = Backoff(initialMs: 1000, maximumMs: 60000)
            var fixed = FixedEntropy(value: random)
            let delay = backoff.nextDelayMs(entropy: &fixed)
            #expect(delay >= 500 && delay <= 1000, "random \(random) gave \(delay)")
        }
    }

    @Test func jitterSpreadsAFleet() {
        // Many agents failing at the same instant with different random draws
        // must not all pick the same delay.
        var delays = Set<Int64>()
        var generator = SeededEntropy(seed: 99)
        for _ in 0..<100 {
            var backoff = Backoff(initialMs: 1000, maximumMs: 60000)
            delays.insert(backoff.nextDelayMs(entropy: &generator))
        }
        #expect(delays.count > 80)
    }
}
