import CamProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A factory unit: the config the provisioning tool would flash, with its own state file.
struct FactoryAgent {
    var serial = "XM0001"
    var secret = Cluster.randomHex(32)
    var agentID: String { "cam-\(serial)" }

    func config(_ cluster: Cluster, stateFile: String) -> String {
        let endpointLines = cluster.serversUseTLS
            ? "endpoint = https://localhost:\(cluster.endpointPort)\nca_file = \(cluster.pkiPath("ca.pem"))"
            : "endpoint = http://127.0.0.1:\(cluster.endpointPort)\nallow_plaintext = yes"
        return """
        serial = \(serial)
        mac = 00:12:34:56:78:9a
        model = IPC-3518
        firmware = V5.0.1
        activation_secret = \(secret)
        state_file = \(stateFile)
        \(endpointLines)
        target = rtsp=127.0.0.1:\(cluster.rtspPort)
        target = http=127.0.0.1:\(cluster.httpPort)
        backoff_initial_ms = 200
        backoff_max_ms = 2000

        """
    }

    /// `camagent-endpoint add-unit` for this unit, as an operator would run it.
    func add(to cluster: Cluster) throws {
        let secretFile = cluster.path("\(serial).secret")
        try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
        let (status, out, err) = try run(Binaries.host("camagent-endpoint"), [
            "add-unit", "--registry", cluster.registry, "--serial", serial,
            "--activation-secret-file", secretFile, "--model", "IPC-3518",
        ])
        guard status == 0 else { throw ClusterError("add-unit failed: \(err)") }
        #expect(out == "added unit \(serial) (agent \(agentID))\n")
        #expect(!out.contains(secret) && !err.contains(secret))
    }
}

/// What a state file holds, if it is complete: nil for a torn or damaged one.
func parseStateFile(_ text: String) -> (agentID: String, key: String)? {
    var agentID: String?, key: String?
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "agent_id": agentID = parts[1]
        case "device_key": key = parts[1]
        case "endpoint", "known_address", "main_endpoint_recheck_ms", "complete": continue
        default: return nil
        }
    }
    guard let agentID, !agentID.isEmpty, let key, key.count == 64, Hex.decode(key) != nil,
          text.hasSuffix("complete = yes\n") else { return nil }
    return (agentID, key)
}

extension ChildProcess {
    /// Waits until `text` occurs at least `count` times in stderr.
    func waitForStderr(_ text: String, count: Int = 1, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while stderr.components(separatedBy: text).count - 1 < count {
            guard Date() < deadline else {
                throw ClusterError("\(name): '\(text)' did not appear \(count)× within \(Int(timeout)) s\n--- stderr\n\(stderr)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    func occurrences(_ text: String, in stream: KeyPath<ChildProcess, String> = \.stderr) -> Int {
        self[keyPath: stream].components(separatedBy: text).count - 1
    }
}

/// After ACTIVATED the agent must log in with its new identity by itself, at
/// once, without a restart.
func waitForLoginAfterActivation(_ agent: ChildProcess, cluster: Cluster, config: String) throws -> ChildProcess {
    try agent.waitForStderr("authenticated to ", timeout: 10)
    return agent
}

extension Cluster {
    /// The viewer URL of `agentID`'s target from the streampoint's `n`th announcement of it.
    func viewerURL(agentID: String, target: String, announcement n: Int = 1, timeout: TimeInterval = 30) throws -> String {
        let prefix = "streampoint: agent \(agentID) target \(target) at "
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let lines = streampoint.stdout.split(separator: "\n").filter { $0.hasPrefix(prefix) }
            if lines.count >= n { return String(lines[n - 1].dropFirst(prefix.count)) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ClusterError("no announcement #\(n) of \(agentID)/\(target)\n\(allLogs)")
    }

    /// An admin API call on the endpoint; returns (HTTP status, body).
    func endpointAdmin(_ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
        let curl = try #require(which("curl"), "curl is not installed")
        var arguments = ["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                         "-H", "Authorization: Bearer \(adminToken)"]
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        let (status, out, err) = try run(curl, arguments + ["http://127.0.0.1:\(endpointAdminPort)\(path)"])
        guard status == 0, let split = out.lastIndex(of: "\n"), let code = Int(out[out.index(after: split)...]) else {
            throw ClusterError("curl \(method) \(path) failed: \(err)")
        }
        return (code, String(out[..<split]))
    }

    func endpointJSON(_ path: String) throws -> Any {
        let (code, body) = try endpointAdmin("GET", path)
        guard code == 200 else { throw ClusterError("GET \(path): HTTP \(code) \(body)") }
        return try JSONSerialization.jsonObject(with: Data(body.utf8))
    }

    /// The admin API's view of the factory unit `serial`.
    func unitView(_ serial: String) throws -> [String: Any] {
        let units = try #require(try endpointJSON("/api/units") as? [[String: Any]])
        return try #require(units.first { $0["serial"] as? String == serial }, "unit \(serial) not listed")
    }

    /// TLS if the servers' TLS harness works here (make-test-pki.sh needs openssl).
    static var factoryTestsUseTLS: Bool { which("openssl") != nil }
}

/// Factory activation, stored identity, revocation, clones, the kill at the
/// write, and rate limiting, with real processes on loopback (issue 3).
extension EndToEnd {
@Suite struct ActivationTests {
    @Test func factoryUnitActivatesStreamsRestartsWithItsIdentityIsRevokedAndItsCloneIsRefused() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: Cluster.factoryTestsUseTLS)
        let unit = FactoryAgent()
        try unit.add(to: cluster)
        #expect(try cluster.unitView(unit.serial)["state"] as? String == "new")

        // 1. First boot: activation, the identity stored, then login with it and video.
        let stateFile = cluster.path("unit1.state")
        let config = unit.config(cluster, stateFile: stateFile)
        let first = try cluster.startAgent(config: config, name: "unit1")
        try first.waitForStderr("unit \(unit.serial) activated as \(unit.agentID)")
        try first.waitForStderr("identity stored in \(stateFile)")
        let agent = try waitForLoginAfterActivation(first, cluster: cluster, config: config)
        let url = try cluster.viewerURL(agentID: unit.agentID, target: "rtsp")
        let frames = try countFrames(url)
        #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")

        let attributes = try FileManager.default.attributesOfItem(atPath: stateFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "state file mode \(String(describing: attributes[.posixPermissions]))")
        let stateText = try String(contentsOfFile: stateFile, encoding: .utf8)
        let identity = try #require(parseStateFile(stateText), "state file is not a complete identity:\n\(stateText)")
        #expect(identity.agentID == unit.agentID)
        #expect(!stateText.lowercased().contains(unit.secret.lowercased()), "the state file holds the activation secret")
        #expect(cluster.endpoint.occurrences("activated unit \(unit.serial) as agent \(unit.agentID)") == 1)
        let view = try cluster.unitView(unit.serial)
        #expect(view["state"] as? String == "active" && view["activations"] as? Int == 1 && view["online"] as? Bool == true)
        #expect(view["mac"] as? String == "00:12:34:56:78:9a")
        let registryText = registryFileText(cluster.path("registry.sqlite"))
        #expect(!registryText.contains(unit.secret) && !registryText.contains(identity.key))

        // 2. Restart: the stored identity, no second activation.
        agent.stop()
        let again = try cluster.startAgent(config: config, name: "unit1-restart")
        try again.waitForStderr("authenticated to ")
        #expect(!again.stderr.contains("activating"), "\(again.stderr)")
        #expect(cluster.endpoint.occurrences("activated unit") == 1, "\(cluster.endpoint.stderr)")
        let url2 = try cluster.viewerURL(agentID: unit.agentID, target: "rtsp", announcement: 2)
        #expect(try countFrames(url2, seconds: 3) >= 50)

        // 3. A clone (same serial and secret, no state yet) while the unit is online.
        let clone = try cluster.startAgent(config: unit.config(cluster, stateFile: cluster.path("clone.state")), name: "clone")
        try clone.waitForStderr("identity-conflict")
        #expect(clone.stderr.contains("serial \(unit.serial) is already online from another unit"), "\(clone.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cluster.path("clone.state")))
        #expect(cluster.endpoint.stderr.contains("clone suspected"))
        let cloned = try cluster.unitView(unit.serial)
        #expect(cloned["cloneSuspected"] as? Bool == true && cloned["activations"] as? Int == 1)
        // The real unit was not disturbed.
        #expect(again.occurrences("endpoint refused us") == 0, "\(again.stderr)")
        #expect(try cluster.endpointJSON("/api/agents/\(unit.agentID)") as? [String: Any] != nil)
        #expect((try cluster.endpointJSON("/api/agents/\(unit.agentID)") as? [String: Any])?["online"] as? Bool == true)
        clone.stop()

        // 4. Revocation through the admin API: the agent logs the reason and keeps running.
        let (code, body) = try cluster.endpointAdmin("POST", "/api/agents/\(unit.agentID)/revoke", body: #"{"reason":"reported stolen in test"}"#)
        #expect(code == 200, "\(body)")
        #expect(body.contains("\"sessionClosed\" : true"), "\(body)")
        try again.waitForStderr("revoked by operator: reported stolen in test", count: 2)  // the closed session, then a retry
        Thread.sleep(forTimeInterval: 1)
        #expect(again.isRunning, "the revoked agent exited\n\(again.stderr)")
        #expect(cluster.endpoint.stderr.contains("agent \(unit.agentID) is revoked"))
        let revoked = try cluster.unitView(unit.serial)
        #expect(revoked["state"] as? String == "revoked")
        #expect((revoked["revoked"] as? [String: Any])?["reason"] as? String == "reported stolen in test")

        // No secret of this run in any log.
        for secret in [unit.secret, identity.key] {
            #expect(!cluster.allLogs.lowercased().contains(secret.lowercased()), "a secret is in the logs")
        }
    }

    /// Power loss during activation: SIGKILL at random moments around it. The
    /// state file is always either absent or a complete identity, and a normal
    /// start afterwards always ends up authenticated and streaming.
    @Test func killedDuringActivationTheStateFileIsNeverTornAndTheUnitRecovers() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: Cluster.factoryTestsUseTLS)
        let unit = FactoryAgent(serial: "XM0100")
        try unit.add(to: cluster)
        let stateFile = cluster.path("unit.state")
        var generator = SystemRandomNumberGenerator()
        var outcomes: [String] = []
        var keys: [String] = []
        /// Seconds from spawn to the stored identity, measured by the first try.
        var activationTime = 0.3
        for iteration in 0..<10 {
            // A factory reset before each try, so every one activates afresh.
            try? FileManager.default.removeItem(atPath: stateFile)
            let agent = try cluster.startAgent(config: unit.config(cluster, stateFile: stateFile), name: "kill-\(iteration)")
            let spawned = Date()
            let delay: Double
            if iteration == 0 {
                // Measure: kill right after the write.
                try agent.waitForStderr("identity stored in ", timeout: 5)
                activationTime = Date().timeIntervalSince(spawned)
                delay = 0
            } else {
                // Anywhere from start-up to a little after the write.
                delay = Double.random(in: 0...(activationTime * 1.3), using: &generator)
            }
            Thread.sleep(forTimeInterval: delay)
            kill(agent.process.processIdentifier, SIGKILL)
            agent.process.waitUntilExit()

            if let text = try? String(contentsOfFile: stateFile, encoding: .utf8) {
                let identity = parseStateFile(text)
                #expect(identity?.agentID == unit.agentID, "iteration \(iteration) (kill after \(delay) s): torn state file:\n\(text)")
                if let identity { keys.append(identity.key) }
                outcomes.append("stored after \(Int(delay * 1000)) ms")
            } else {
                outcomes.append("absent after \(Int(delay * 1000)) ms")
            }
        }

        // A normal start now: with the stored identity, or by activating again.
        let finalConfig = unit.config(cluster, stateFile: stateFile)
        let activatesAgain = !FileManager.default.fileExists(atPath: stateFile)
        var final = try cluster.startAgent(config: finalConfig, name: "final")
        if activatesAgain {
            try final.waitForStderr("identity stored in ", timeout: 20)
            final = try waitForLoginAfterActivation(final, cluster: cluster, config: finalConfig)
        } else {
            try final.waitForStderr("authenticated to ", timeout: 30)
        }
        // Its own registration, not the announcement of a killed try before it.
        try final.waitForStderr("streampoint: registered with ", timeout: 30)
        let announcements = cluster.streampoint.stdout.split(separator: "\n")
            .filter { $0.hasPrefix("streampoint: agent \(unit.agentID) target rtsp at ") }.count
        let url = try cluster.viewerURL(agentID: unit.agentID, target: "rtsp", announcement: max(1, announcements))
        let frames = try countFrames(url, seconds: 3)
        #expect(frames >= 50, "only \(frames) frames after \(outcomes)\n\(cluster.allLogs)")
        let finalState = try String(contentsOfFile: stateFile, encoding: .utf8)
        let finalIdentity = try #require(parseStateFile(finalState))
        keys.append(finalIdentity.key)

        // Neither the activation secret nor any device key reached a log.
        for child in cluster.children {
            for secret in [unit.secret] + keys {
                #expect(!child.stderr.lowercased().contains(secret.lowercased()), "\(child.name) logged a secret")
                #expect(!child.stdout.lowercased().contains(secret.lowercased()), "\(child.name) printed a secret")
            }
        }
        print("kill-at-the-write outcomes: \(outcomes)")
    }

    /// 1,000 bad logins from one address: refused, rate-limited, the endpoint's
    /// memory flat, and the good agent (another address) still gets in at once.
    @Test func aThousandBadAttemptsNeitherLockOutTheGoodAgentNorGrowTheEndpoint() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()  // plain TCP: the attacker speaks raw frames
        let agent = try cluster.startAgent()
        try agent.waitForStderr("authenticated to ")
        let pid = cluster.endpoint.process.processIdentifier
        // Warm up the endpoint's allocations with a few attempts, then measure.
        for _ in 0..<20 { _ = try badLogin(port: cluster.endpointPort, from: "127.0.0.3", agentID: "cam-warmup") }
        let rssBefore = try residentSetKiB(pid)
        var codes: [ErrorCode: Int] = [:]
        let started = Date()
        for i in 0..<1000 {
            let id = i % 3 == 0 ? cluster.agentID : "cam-guess-\(i)"
            codes[try badLogin(port: cluster.endpointPort, from: "127.0.0.2", agentID: id), default: 0] += 1
        }
        let elapsed = Date().timeIntervalSince(started)
        let rssAfter = try residentSetKiB(pid)
        // 30 failures, then refusals for 15 s; a slow run sees one more round per 15 s.
        let allowed = 30 * (1 + Int(elapsed / 15))
        #expect(codes[.authenticationFailed, default: 0] <= allowed, "\(codes) in \(elapsed) s")
        #expect(codes[.rateLimited, default: 0] >= 1000 - allowed, "\(codes)")
        #expect(codes.keys.allSatisfy { $0 == .authenticationFailed || $0 == .rateLimited }, "\(codes)")
        #expect(rssAfter - rssBefore < 8 * 1024, "endpoint RSS grew from \(rssBefore) to \(rssAfter) KiB")
        #expect(cluster.endpoint.stderr.contains("too many failed attempts: refusing address 127.0.0.2"))

        // The good agent reconnects from its own address at once, although its id
        // was among the guesses: it is not locked out.
        agent.stop()
        let back = try cluster.startAgent(name: "agent-again")
        try back.waitForStderr("authenticated to ", timeout: 10)
        #expect(!back.stderr.contains("rate-limited"), "\(back.stderr)")
        #expect(cluster.endpoint.isRunning)
        print("1,000 bad attempts in \(Int(elapsed * 1000)) ms: \(codes.map { "\($0.key.name)=\($0.value)" }); endpoint RSS \(rssBefore) → \(rssAfter) KiB")
    }
}
}

/// One bad login (wrong proof) from a chosen loopback source address; returns
/// the code of the endpoint's ERROR.
private func badLogin(port: Int, from source: String, agentID: String) throws -> ErrorCode {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClusterError("socket failed") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    func address(_ host: String, _ port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr(host)
        return a
    }
    var local = address(source, 0)
    var remote = address("127.0.0.1", port)
    let bound = withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw ClusterError("cannot bind \(source)") }
    let connected = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw ClusterError("connect from \(source) failed") }
    let request = HTTPUpgrade.request(host: "x")
        + Message.hello(version: 1, role: .endpointControl, software: "attacker").encoded()
        + Message.authBegin(agentID: agentID, clientNonce: [UInt8](repeating: 7, count: 32)).encoded()
        + Message.authProof(proof: [UInt8](repeating: 0, count: 32)).encoded()
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { break }
        received += buffer[0..<n]
    }
    var head = HTTPHeadAccumulator()
    guard let (_, rest) = try head.feed(received) else { throw ClusterError("no upgrade answer") }
    var decoder = FrameDecoder()
    decoder.append(rest)
    while let frame = try decoder.nextFrame() {
        if case .error(let code, _) = try Message(frame: frame) { return code }
    }
    throw ClusterError("no ERROR from the endpoint")
}

