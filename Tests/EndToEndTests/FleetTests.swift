import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
/// 1,000 simulated agents (camagent-fleet: the agent's own CamCore per agent)
/// against the real endpoint and streampoint over TLS: all come up, the
/// endpoint is killed with SIGKILL and restarted, and every agent comes back
/// without a reconnect storm.
@Suite struct FleetTests {
    static let agents = 1000
    static let initialBackoffMs = 1000
    static let maxBackoffMs = 4000

    @Test func thousandAgentsComeBackAfterAnEndpointRestartWithoutAStorm() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let fleetBinary = Binaries.host("camagent-fleet")
        try Cluster.randomHex(32).write(toFile: cluster.path("fleet.seed"), atomically: true, encoding: .utf8)
        // The fleet's registry first: startServers' `enroll` adds its own agent and keeps these.
        let (status, _, err) = try run(fleetBinary, ["make-registry", "--count", "\(Self.agents)",
                                                     "--key-seed", cluster.path("fleet.seed"), "--out", cluster.path("registry.sqlite")])
        try #require(status == 0, "make-registry failed: \(err)")
        // Every simulated agent connects from 127.0.0.1; real cameras come from many addresses.
        try cluster.startServers(tls: true, streampointArguments: ["--max-pending-per-address", "256"])

        let fleet = try cluster.spawn("fleet", fleetBinary, [
            "run", "--endpoint", "https://localhost:\(cluster.endpointPort)", "--ca-file", cluster.pkiPath("ca.pem"),
            "--count", "\(Self.agents)", "--key-seed", cluster.path("fleet.seed"),
            "--backoff-initial-ms", "\(Self.initialBackoffMs)", "--backoff-max-ms", "\(Self.maxBackoffMs)",
            // Brought up over 5 s: the storm under test is the restart's, not a cold start's.
            "--ramp-seconds", "5", "--up-timeout", "90", "--endpoint-restart", "--restart-timeout", "90",
            "--streampoint-pid", "\(cluster.streampoint.process.processIdentifier)",
            "--endpoint-pid", "\(cluster.endpoint.process.processIdentifier)",
        ])
        _ = try fleet.waitForLine(startingWith: "fleet: ready for the endpoint restart", timeout: 100)

        try restartEndpointHard(cluster)
        let deadline = Date().addingTimeInterval(100)
        while fleet.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!fleet.isRunning, "the fleet did not finish within 100 s of the restart")
        fleet.stop()
        // The report (histograms, rates, memory) belongs in the test log.
        print(fleet.stdout)

        let context = "\(fleet.stdout)\n--- fleet stderr\n\(fleet.stderr)\n--- endpoint (restarted) stderr tail\n"
            + String(cluster.endpoint.stderr.suffix(3000))
        #expect(fleet.process.terminationStatus == 0, "\(context)")
        let result = try #require(resultFields(fleet.stdout, "restart"), "no restart result line\n\(context)")
        #expect(result["lost"] == Self.agents, "every agent must see the endpoint go: \(result)")
        #expect(result["back"] == Self.agents, "every agent must come back: \(result)")
        // The bound, from Agent/Core/Backoff.swift: a lost session waits uniformly in
        // [I/2, I], so N agents make N*100/(I/2) attempts per 100 ms in the first wave
        // and the doubling later waves at most as many again; plus 4 sigma of noise.
        let firstWave = Double(Self.agents) * 100 / (Double(Self.initialBackoffMs) / 2)
        let bound = Int((2 * firstWave + 4 * (2 * firstWave).squareRoot()).rounded(.up))
        let peak = try #require(result["peak_attempts_per_100ms"])
        #expect(peak <= bound, "reconnect storm: \(peak) attempts in 100 ms, design bound \(bound)\n\(context)")
        #expect(peak < Self.agents / 2, "half the fleet in one 100 ms is lockstep")
        // The rate alone could be flattened by a fleet process too slow to handle 1,000
        // losses at once; each agent's own first delay cannot. Uniform over [I/2, I],
        // its p90 - p10 is 0.4 I; agents in lockstep would all wait the same.
        let spread = try #require(result["first_retry_p90_ms"]) - (try #require(result["first_retry_p10_ms"]))
        #expect(spread >= Self.initialBackoffMs / 5, "first reconnect delays spread over only \(spread) ms: lockstep\n\(context)")
        // Everyone back within a bound: the endpoint's restart, the first wave (I) and
        // capped waits (at most 4 s each) while one endpoint thread works through 1,000
        // TLS handshakes take well under 60 s on two idle cores. A busy machine slows
        // the handshakes themselves, so the bound is also at least twice what the same
        // handshakes took at bring-up: the restart may be slower than a ramped start,
        // but not by a storm's collapse.
        let bringUp = try #require(resultFields(fleet.stdout, "bring-up")?["all_up_ms"])
        let allBack = try #require(result["all_back_ms"])
        let backBound = max(60_000, 2 * bringUp)
        #expect(allBack >= 0 && allBack <= backBound, "all back after \(allBack) ms, bound \(backBound) ms\n\(context)")
        #expect(result["streampoint_losses"] == 0, "the streampoint links must survive an endpoint restart")
        let rss = fleet.stdout.split(separator: "\n").filter { $0.hasPrefix("fleet: result rss") }
        #expect(rss.count == 2, "RSS of both servers is reported")
    }

    /// SIGKILL (no goodbye to anyone), then the same command on the same port.
    private func restartEndpointHard(_ cluster: Cluster) throws {
        let old = try #require(cluster.endpoint)
        var arguments = old.process.arguments ?? []
        let listen = try #require(arguments.firstIndex(of: "--listen"))
        let host = HostPortText.host(of: arguments[listen + 1])
        arguments[listen + 1] = "\(host):\(cluster.endpointPort)"
        kill(old.process.processIdentifier, SIGKILL)
        old.process.waitUntilExit()
        cluster.endpoint = try cluster.spawn("endpoint-restarted", Binaries.host("camagent-endpoint"), arguments)
        _ = try cluster.endpoint.waitForLine(startingWith: "endpoint: agents listening on ", timeout: 20)
    }

    /// `fleet: result KIND key=value ...` as integers.
    private func resultFields(_ output: String, _ kind: String) -> [String: Int]? {
        let prefix = "fleet: result \(kind) "
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix(prefix) }) else { return nil }
        var fields: [String: Int] = [:]
        for pair in line.dropFirst(prefix.count).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Int(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }
}
}

/// `HOST:PORT` or `[V6]:PORT` as given on a command line.
enum HostPortText {
    static func host(of text: String) -> String {
        guard let colon = text.lastIndex(of: ":") else { return text }
        return String(text[..<colon])
    }
}
