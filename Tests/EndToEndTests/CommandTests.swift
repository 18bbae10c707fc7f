import CamProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Cluster {
    /// A JSON object from the endpoint's admin API (GET).
    func endpointObject(_ path: String) throws -> [String: Any] {
        try #require(try endpointJSON(path) as? [String: Any], "GET \(path) is not an object")
    }

    /// A POST to the endpoint's admin API whose answer is a JSON object; returns (HTTP status, object).
    func endpointPost(_ path: String, body: String? = nil) throws -> (Int, [String: Any]) {
        let (code, text) = try endpointAdmin("POST", path, body: body)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "POST \(path): \(text)")
        return (code, object)
    }

    /// Polls `GET /agents/ID` until `condition` holds; returns the view that satisfied it.
    @discardableResult
    func waitForAgentView(_ agentID: String, timeout: TimeInterval = 20, _ what: String,
                          _ condition: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String: Any] = [:]
        while Date() < deadline {
            last = try endpointObject("/api/agents/\(agentID)")
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw ClusterError("agent \(agentID) never \(what) within \(Int(timeout)) s; last view \(last)\n\(allLogs)")
    }
}

/// A TCP port free right now on the address TLS listeners bind (for a server
/// that must know its own port before it starts, e.g. to push it to agents).
func freeTCPPort() throws -> Int {
    let ipv6 = Cluster.tlsListenHost == "[::]"
    let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClusterError("socket failed") }
    defer { close(fd) }
    var result: Int32
    var port = 0
    if ipv6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 ? getsockname(fd, $0, &length) : -1 }
        }
        port = Int(UInt16(bigEndian: address.sin6_port))
    } else {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 ? getsockname(fd, $0, &length) : -1 }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }
    guard result == 0, port > 0 else { throw ClusterError("cannot find a free port") }
    return port
}

/// `key = value` lines of a state or config file.
func keyValues(_ text: String) -> [(String, String)] {
    text.split(separator: "\n").compactMap { line in
        guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
        return (line[..<equals].trimmingCharacters(in: .whitespaces), line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces))
    }
}

/// The endpoint's side of failover, reports and commands (issue 5) with real
/// processes: the backup streampoint in STREAMPOINT_ASSIGN, CONFIG_PUSH,
/// AGENT_STATS in the admin API, and disconnect, reboot and reset.
extension EndToEnd {
@Suite struct CommandTests {
    /// One agent with a fixed identity, two streampoints, an endpoint list to push.
    @Test func statsConfigPushAndFailoverToTheBackupStreampoint() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let tls = Cluster.factoryTestsUseTLS
        let port = try freeTCPPort()
        let scheme = tls ? "https" : "http"
        let mainURL = "\(scheme)://localhost:\(port)"
        let spareURL = "\(scheme)://spare.invalid:7000"
        try cluster.startServers(tls: tls, secondStreampointID: "sp2", endpointPort: port,
                                 endpointArguments: ["--agent-endpoint", mainURL, "--agent-endpoint", spareURL, "--main-recheck", "45"])
        let stateFile = cluster.path("agent.state")
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: "state_file = \(stateFile)\n"))
        try agent.waitForStderr("streampoint: registered with sp1", timeout: 30)

        // The report the agent sends on registering reaches the admin API.
        let registered = try cluster.waitForAgentView(cluster.agentID, "reported sp1 registered") {
            $0["currentStreampoint"] as? String == "sp1" && $0["streampointState"] as? String == "registered"
        }
        #expect(registered["streampoint"] as? String == "sp1" && registered["backupStreampoint"] as? String == "sp2")
        #expect(registered["serial"] is NSNull, "a fixed-identity agent has no serial: \(registered)")
        try cluster.endpoint.waitForStderr("agent \(cluster.agentID) now on streampoint sp1 (registered), reported: streampoint-changed")

        // A fresh report on request, with counters by name and the agent's local address.
        let (code, answer) = try cluster.endpointPost("/api/agents/\(cluster.agentID)/stats")
        #expect(code == 200 && answer["ok"] as? Bool == true && answer["command"] as? String == "stats", "\(answer)")
        let fresh = try #require(answer["stats"] as? [String: Any], "\(answer)")
        #expect(fresh["reason"] as? String == "requested")
        #expect(fresh["streampoint"] as? String == "sp1" && fresh["streampointState"] as? String == "registered")
        let local = try #require(fresh["localAddress"] as? String, "\(fresh)")
        #expect(local == "127.0.0.1" || local == "::1" || local.hasPrefix("127.0.0.1") || local.hasPrefix("::1")
                || local.hasPrefix("[::1]"), "local address \(local)")
        let counters = try #require(fresh["counters"] as? [String: Any], "\(fresh)")
        for name in ["tunnelsRequested", "tunnelsEstablished", "controlConnectFailures", "streampointChanges"] {
            #expect(counters[name] is NSNumber, "counter \(name) missing: \(counters)")
        }
        let detail = try cluster.endpointObject("/api/agents/\(cluster.agentID)")
        let kept = try #require(detail["stats"] as? [String: Any], "\(detail)")
        #expect(kept["reason"] as? String == "requested" && kept["receivedAt"] is String && kept["uptimeSeconds"] is NSNumber)
        let list = try #require(try cluster.endpointJSON("/api/agents") as? [[String: Any]])
        #expect(list.first?["currentStreampoint"] as? String == "sp1" && list.first?["stats"] == nil, "\(list)")

        // The pushed endpoint list lands in the agent's state file, main first.
        let deadline = Date().addingTimeInterval(15)
        var pushed: [String] = []
        var stateText = ""
        while Date() < deadline {
            stateText = (try? String(contentsOfFile: stateFile, encoding: .utf8)) ?? ""
            pushed = keyValues(stateText).filter { $0.0 == "endpoint" }.map { String($0.1.split(separator: " ")[0]) }
            if pushed.count == 2 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(pushed == [mainURL, spareURL], "state file:\n\(stateText)\n\(agent.stderr)")
        #expect(keyValues(stateText).contains { $0 == ("main_endpoint_recheck_ms", "45000") }, "state file:\n\(stateText)")
        #expect(!stateText.contains(cluster.deviceKey), "a fixed identity must not be copied into the state file")

        // sp1 dies: the agent goes to the backup it was given, on its own.
        cluster.streampoint.stop()
        let failedOver = try cluster.waitForAgentView(cluster.agentID, timeout: 40, "reported sp2 registered") {
            $0["currentStreampoint"] as? String == "sp2" && $0["streampointState"] as? String == "registered"
        }
        #expect(failedOver["online"] as? Bool == true && failedOver["streampoint"] as? String == "sp1", "\(failedOver)")
        try cluster.endpoint.waitForStderr("agent \(cluster.agentID) now on streampoint sp2 (registered)")
        let second = try #require(cluster.streampoint2)
        _ = try second.waitForLine(startingWith: "streampoint: agent \(cluster.agentID) target rtsp at ", timeout: 10)
        #expect(cluster.endpoint.isRunning && agent.isRunning)
    }

    /// reboot with and without reboot_command, disconnect for a while, and the
    /// error answers for unknown, offline and refusing agents.
    @Test func rebootAndDisconnectCommands() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: Cluster.factoryTestsUseTLS)
        let id = cluster.agentID

        // No reboot_command: the agent says so, the operator sees its words.
        let plain = try cluster.startAgent(name: "no-reboot")
        try plain.waitForStderr("authenticated to ")
        try cluster.waitForAgentView(id, "came online") { $0["online"] as? Bool == true }
        let (refusedCode, refused) = try cluster.endpointPost("/api/agents/\(id)/reboot")
        #expect(refusedCode == 502 && refused["ok"] as? Bool == false, "\(refused)")
        #expect((refused["message"] as? String ?? "").contains("reboot_command is not configured"), "\(refused)")
        // A fixed identity cannot be reset.
        let (resetCode, reset) = try cluster.endpointPost("/api/agents/\(id)/reset")
        #expect(resetCode == 502 && (reset["message"] as? String ?? "").contains("no factory identity"), "\(reset)")
        plain.stop()
        try cluster.waitForAgentView(id, "went offline") { $0["online"] as? Bool == false }
        let (offlineCode, offline) = try cluster.endpointPost("/api/agents/\(id)/reboot")
        #expect(offlineCode == 409 && offline["ok"] as? Bool == false, "\(offline)")
        #expect(try cluster.endpointAdmin("POST", "/api/agents/nobody/reboot").0 == 404)
        #expect(try cluster.endpointAdmin("GET", "/api/agents/\(id)/reboot").0 == 405)

        // With reboot_command: it runs (no shell) and leaves its marker.
        let touch = try #require(which("touch"))
        let marker = cluster.path("rebooted-marker")
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: "reboot_command = \(touch) \(marker)\n"), name: "reboot")
        try agent.waitForStderr("authenticated to ")
        try cluster.waitForAgentView(id, "came online") { $0["online"] as? Bool == true }
        let (rebootCode, reboot) = try cluster.endpointPost("/api/agents/\(id)/reboot")
        #expect(rebootCode == 200 && reboot["ok"] as? Bool == true && reboot["command"] as? String == "reboot", "\(reboot)")
        let markerDeadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: marker) && Date() < markerDeadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(FileManager.default.fileExists(atPath: marker), "reboot_command did not run\n\(agent.stderr)")

        // Bad disconnect bodies are refused before anything is sent.
        #expect(try cluster.endpointAdmin("POST", "/api/agents/\(id)/disconnect", body: #"{"seconds":-1}"#).0 == 400)
        #expect(try cluster.endpointAdmin("POST", "/api/agents/\(id)/disconnect", body: "nonsense").0 == 400)

        // Disconnect for 3 s: offline at once, back by itself after the delay.
        let sent = Date()
        let (disconnectCode, disconnect) = try cluster.endpointPost("/api/agents/\(id)/disconnect", body: #"{"seconds":3}"#)
        #expect(disconnectCode == 200 && disconnect["ok"] as? Bool == true, "\(disconnect)")
        try cluster.waitForAgentView(id, timeout: 5, "went offline after the disconnect") { $0["online"] as? Bool == false }
        try cluster.waitForAgentView(id, timeout: 20, "came back after the disconnect") { $0["online"] as? Bool == true }
        let away = Date().timeIntervalSince(sent)
        #expect(away >= 2.5, "back after \(away) s, asked for 3 s")
        #expect(agent.occurrences("endpoint ordered a disconnect") == 1)
        #expect(agent.isRunning && cluster.endpoint.isRunning)
        print("disconnect 3 s: the agent was back online after \(String(format: "%.1f", away)) s")
    }

    /// How an agent on a backup endpoint checks the main one: upgrade, HELLO,
    /// HELLO_ACK, close. Many such checks are no failed attempts (no rate
    /// limit afterwards) and leave no info-level line.
    @Test func helloOnlyReachabilityChecksAreQuietAndNotFailures() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()  // plain TCP: the checks are raw frames
        for _ in 0..<40 {  // more than the 30 failures per address that would start a block
            let client = try RawClient(port: cluster.endpointPort)
            client.send(HTTPUpgrade.request(host: "127.0.0.1")
                        + Message.hello(version: ProtocolConstants.version, role: .endpointControl, software: "probe").encoded())
            let answer = client.read(atLeast: 20)
            #expect(answer.text.hasPrefix("HTTP/1.1 101"), "no upgrade: \(answer.text)")
        }
        let agent = try cluster.startAgent()
        try agent.waitForStderr("authenticated to ", timeout: 10)
        #expect(!agent.stderr.contains("rate-limited"), "\(agent.stderr)")
        Thread.sleep(forTimeInterval: 0.3)
        let log = cluster.endpoint.stderr
        #expect(!log.contains("closed before authenticating") && !log.contains("too many failed attempts"), "\(log)")
    }

    /// reset of an activated unit: it drops its identity, activates again at
    /// once with a new key and is online again; no clone alarm.
    @Test func resetReactivatesTheUnitWithANewKey() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: Cluster.factoryTestsUseTLS)
        let unit = FactoryAgent(serial: "XM0500")
        try unit.add(to: cluster)
        let stateFile = cluster.path("unit.state")
        let agent = try cluster.startAgent(config: unit.config(cluster, stateFile: stateFile), name: "unit")
        try agent.waitForStderr("unit \(unit.serial) activated as \(unit.agentID)")
        try agent.waitForStderr("authenticated to ")
        let online = try cluster.waitForAgentView(unit.agentID, "came online with its unit details") {
            $0["online"] as? Bool == true && $0["serial"] as? String == unit.serial
        }
        #expect(online["mac"] as? String == "00:12:34:56:78:9a" && online["model"] as? String == "IPC-3518", "\(online)")
        func storedKey() -> String? {
            let text = (try? String(contentsOfFile: stateFile, encoding: .utf8)) ?? ""
            return keyValues(text).first { $0.0 == "device_key" }?.1
        }
        let firstKey = try #require(storedKey())

        let (code, answer) = try cluster.endpointPost("/api/agents/\(unit.agentID)/reset")
        #expect(code == 200 && answer["ok"] as? Bool == true && answer["command"] as? String == "reset", "\(answer)")
        try agent.waitForStderr("unit \(unit.serial) activated as \(unit.agentID)", count: 2, timeout: 20)
        try agent.waitForStderr("authenticated to ", count: 2, timeout: 20)
        let secondKey = try #require(storedKey())
        #expect(secondKey != firstKey, "the state file still holds the old key")
        try cluster.waitForAgentView(unit.agentID, "came online after the reset") { $0["online"] as? Bool == true }
        let view = try cluster.unitView(unit.serial)
        #expect(view["activations"] as? Int == 2 && view["online"] as? Bool == true, "\(view)")
        #expect(view["cloneSuspected"] as? Bool == false, "a reset must not look like a clone: \(view)")
        #expect(!cluster.endpoint.stderr.contains("identity-conflict") && !cluster.endpoint.stderr.contains("clone suspected"),
                "\(cluster.endpoint.stderr)")
        #expect(agent.occurrences("identity-conflict") == 0, "\(agent.stderr)")

        // The re-activation after a reset works once; a clone right after is still refused.
        let clone = try cluster.startAgent(config: unit.config(cluster, stateFile: cluster.path("clone.state")), name: "clone")
        try clone.waitForStderr("identity-conflict")
        clone.stop()
        for secret in [unit.secret, firstKey, secondKey] {
            #expect(!cluster.allLogs.lowercased().contains(secret.lowercased()), "a secret is in the logs")
        }
    }
}
}
