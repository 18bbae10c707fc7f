import Foundation
import ServerMetrics
import Testing

extension EndToEnd {
/// Issue 10 §3: both servers serve /metrics on their admin ports, promtool
/// accepts what they serve, and a real Prometheus (Debian's package) scrapes
/// them: PromQL through its HTTP API sees the agents online and a tunnel.
@Suite struct MetricsTests {
    @Test func prometheusScrapesTheEndpointAndTheStreampoint() throws {
        let prometheusBinary = try #require(which("prometheus"),
                                            "prometheus is not installed: Scripts/test installs Debian's prometheus package")
        let promtool = try #require(which("promtool"), "promtool is not installed: Scripts/test installs Debian's prometheus package")
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()

        // Two agents: the cluster's own and a second one enrolled beside it.
        let secondKey = Cluster.randomHex(32)
        try secondKey.write(toFile: cluster.path("device2.key"), atomically: true, encoding: .utf8)
        let (enrolled, _, enrollErr) = try run(Binaries.host("camagent-endpoint"), [
            "enroll", "--registry", cluster.registry, "--id", "cam-e2e-2", "--key-file", cluster.path("device2.key"),
        ])
        try #require(enrolled == 0, "enroll failed: \(enrollErr)")
        try cluster.startAgent()
        let secondConfig = cluster.agentConfig(key: secondKey)
            .replacingOccurrences(of: "agent_id = \(cluster.agentID)\n", with: "agent_id = cam-e2e-2\n")
        try cluster.startAgent(config: secondConfig, name: "agent2")
        // And one the registry does not know, refused at each try.
        let ghostConfig = cluster.agentConfig(key: Cluster.randomHex(32))
            .replacingOccurrences(of: "agent_id = \(cluster.agentID)\n", with: "agent_id = cam-ghost\n")
        try cluster.startAgent(config: ghostConfig, name: "ghost")

        // A viewer fetch through a tunnel, so that the tunnel counters move.
        let base = try cluster.viewerURL(target: "http")
        let curl = try #require(which("curl"), "curl is not installed")
        let (fetched, _, fetchErr) = try run(curl, ["-sSf", "--max-time", "20", "-o", cluster.path("snapshot.jpg"), "\(base)snapshot.jpg"])
        #expect(fetched == 0, "viewer fetch failed: \(fetchErr)\n\(cluster.allLogs)")

        // What the servers serve: every catalog metric, accepted by promtool.
        for (server, port, definitions) in [("endpoint", cluster.endpointAdminPort, MetricCatalog.endpoint),
                                            ("streampoint", cluster.streampointAdminPort, MetricCatalog.streampoint)] {
            let (code, text) = try admin(port: port, "GET", "/metrics")
            #expect(code == 200, "\(server) GET /metrics: HTTP \(code)")
            for definition in definitions {
                #expect(text.contains("# TYPE \(definition.name) \(definition.typeName)\n"), "\(server) lacks \(definition.name)")
            }
            let (status, out, err) = try run(promtool, ["check", "metrics"], timeout: 30, stdin: text)
            #expect(status == 0, "promtool check metrics on the \(server)'s /metrics: \(out)\(err)")
            print("metrics: the \(server)'s /metrics is \(text.utf8.count) bytes, \(text.split(separator: "\n").count) lines")
        }
        let (postCode, _) = try admin(port: cluster.endpointAdminPort, "POST", "/metrics")
        #expect(postCode == 404 || postCode == 405, "POST /metrics: HTTP \(postCode)")

        let prometheus = try PrometheusServer(binary: prometheusBinary, cluster: cluster, targets: [
            "endpoint": cluster.endpointAdminPort, "streampoint": cluster.streampointAdminPort,
        ])
        defer { prometheus.stop() }

        let scraping = Date()
        let online = try prometheus.waitForValue("camagent_endpoint_agents_online", timeout: 60) { $0 == 2 }
        #expect(online == 2, "agents online as Prometheus sees it\n\(prometheus.log)\n\(cluster.allLogs)")
        print("metrics: Prometheus answered 2 agents online \(String(format: "%.1f", Date().timeIntervalSince(scraping))) s after it started")
        let up = try prometheus.waitForValue("sum(up)", timeout: 30) { $0 == 2 }
        #expect(up == 2, "both targets up\n\(prometheus.log)")
        let registered = try prometheus.waitForValue("camagent_streampoint_agents_registered", timeout: 30) { $0 == 2 }
        #expect(registered == 2)
        let tunnels = try prometheus.waitForValue("camagent_streampoint_tunnels_total", timeout: 30) { $0 >= 1 }
        #expect((tunnels ?? 0) >= 1, "tunnels opened as Prometheus sees it")
        let bytes = try prometheus.waitForValue(#"camagent_streampoint_bytes_total{direction="to_viewer"}"#, timeout: 30) { $0 > 1000 }
        #expect((bytes ?? 0) > 1000, "the snapshot's bytes to the viewer")
        let logins = try prometheus.waitForValue("camagent_endpoint_logins_total", timeout: 30) { $0 >= 2 }
        #expect((logins ?? 0) >= 2)
        let handshakes = try prometheus.waitForValue("camagent_endpoint_handshake_duration_seconds_count", timeout: 30) { $0 >= 2 }
        #expect((handshakes ?? 0) >= 2)
        let claims = try prometheus.waitForValue(#"camagent_endpoint_database_duration_seconds_count{operation="claim_session"}"#,
                                                 timeout: 30) { $0 >= 2 }
        #expect((claims ?? 0) >= 2, "each login's session claim went to the database")

        let refused = try prometheus.waitForValue(#"camagent_endpoint_login_failures_total{reason="authentication_failed"}"#,
                                                  timeout: 30) { $0 >= 1 }
        #expect((refused ?? 0) >= 1, "the unknown agent's refused logins")

        // One agent leaves: the gauge follows.
        cluster.children.first { $0.name == "agent2" }?.stop()
        let after = try prometheus.waitForValue("camagent_endpoint_agents_online", timeout: 30) { $0 == 1 }
        #expect(after == 1, "agents online after one left\n\(cluster.allLogs)")
    }
}
}

/// A real Prometheus server in a temporary directory, scraping loopback
/// targets every second; asked through its HTTP API.
final class PrometheusServer {
    let port: Int
    private let child: ChildProcess

    init(binary: String, cluster: Cluster, targets: [String: Int]) throws {
        port = try ThrowawayPostgres.freeLoopbackPort()
        let jobs = targets.sorted { $0.key < $1.key }.map { job, target in
            """
              - job_name: \(job)
                static_configs:
                  - targets: ["127.0.0.1:\(target)"]
            """
        }.joined(separator: "\n")
        let config = """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        scrape_configs:
        \(jobs)

        """
        let configPath = cluster.path("prometheus.yml")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        child = try cluster.spawn("prometheus", binary, [
            "--config.file=\(configPath)",
            "--storage.tsdb.path=\(cluster.path("prometheus-data"))",
            "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn",
        ])
    }

    var log: String { "--- prometheus stderr\n\(child.stderr)" }

    func stop() { child.stop() }

    /// The query's single value (an instant vector with one series, or a scalar), nil if none.
    func query(_ promQL: String) throws -> Double? {
        let curl = try #require(which("curl"), "curl is not installed")
        let (status, out, _) = try run(curl, ["-sS", "--max-time", "5", "-G", "--data-urlencode", "query=\(promQL)",
                                              "http://127.0.0.1:\(port)/api/v1/query"], timeout: 10)
        guard status == 0,
              let answer = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              answer["status"] as? String == "success",
              let data = answer["data"] as? [String: Any] else { return nil }
        let pair: [Any]?
        if data["resultType"] as? String == "scalar" {
            pair = data["result"] as? [Any]
        } else {
            let series = data["result"] as? [[String: Any]] ?? []
            guard series.count == 1 else { return nil }
            pair = series[0]["value"] as? [Any]
        }
        guard let text = pair?.last as? String else { return nil }
        return Double(text)
    }

    /// Polls `promQL` until `accept` takes its value (bounded by `timeout`); returns the last value seen.
    func waitForValue(_ promQL: String, timeout: TimeInterval, _ accept: (Double) -> Bool) throws -> Double? {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Double?
        while Date() < deadline {
            guard child.isRunning else { throw ClusterError("prometheus exited\n\(log)") }
            last = try query(promQL)
            if let last, accept(last) { return last }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return last
    }
}

/// The sum of the samples of `series` in Prometheus text: a metric name (all
/// its label sets), or a name with its labels exactly as rendered.
func metricSum(_ series: String, in text: String) -> Double {
    text.split(separator: "\n").reduce(0) { sum, line in
        guard line.hasPrefix(series + " ") || (!series.contains("{") && line.hasPrefix(series + "{")),
              let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { return sum }
        return sum + value
    }
}
