import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every end-to-end suite nests here so they run one at a time: each starts
/// real processes and streams real time, and the machine has two cores.
@Suite(.serialized) enum EndToEnd {}

/// Where the binaries under test live. `swift build` puts them beside the test
/// bundle; CAMAGENT_AGENT and CAMAGENT_AGENT_RUNNER swap in a cross-built agent
/// and the emulator that runs it (e.g. `qemu-arm-static -cpu cortex-a7`).
enum Binaries {
    static var buildDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["CAMAGENT_BUILD_DIR"] { return URL(fileURLWithPath: dir) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .../debug/camagentPackageTests.xctest (a file on Linux)
        while url.pathComponents.count > 1 && url.pathExtension != "xctest" { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent()
    }

    static func host(_ name: String) -> String { buildDirectory.appendingPathComponent(name).path }

    /// The repository checkout these tests were built from (for Scripts/).
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// A child process whose stdout and stderr go to files in the cluster's
/// directory, so tests can wait for announced lines and keep logs for failures.
final class ChildProcess {
    let name: String
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    init(name: String, executable: String, arguments: [String], directory: URL) throws {
        self.name = name
        stdoutURL = directory.appendingPathComponent("\(name).out")
        stderrURL = directory.appendingPathComponent("\(name).err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// Waits until a stdout line starts with `prefix`; returns the rest of that line.
    func waitForLine(startingWith prefix: String, in stream: KeyPath<ChildProcess, String> = \.stdout,
                     timeout: TimeInterval = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for line in self[keyPath: stream].split(separator: "\n") where line.hasPrefix(prefix) {
                return String(line.dropFirst(prefix.count))
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ClusterError("\(name) did not print '\(prefix)…' within \(Int(timeout)) s\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)")
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        // Bounded too: Foundation has been seen never to notice a child that
        // crashed while its backtracer ran, and an unbounded wait hangs the suite.
        let killDeadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < killDeadline { Thread.sleep(forTimeInterval: 0.02) }
    }
}

struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A port announced as `... listening on 127.0.0.1:PORT`.
func port(fromAnnouncement text: String) throws -> Int {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
        throw ClusterError("cannot read a port from '\(text)'")
    }
    return port
}

/// Runs a command to completion with a time limit; returns (status, stdout, stderr).
@discardableResult
func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60,
         stdin: String? = nil) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("camagent-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    if let stdin {
        let input = directory.appendingPathComponent("in")
        try stdin.write(to: input, atomically: true, encoding: .utf8)
        process.standardInput = try FileHandle(forReadingFrom: input)
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
        process.terminate()
        Thread.sleep(forTimeInterval: 0.5)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    return (process.terminationStatus,
            (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

func which(_ tool: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(directory)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// simcam + endpoint + streampoint + agent on loopback with ephemeral ports,
/// in a private temp directory; `stop()` ends every process it started.
///
/// With `startServers(tls: true)` both servers' agent links speak TLS with a
/// throwaway PKI made in `<directory>/pki` by Scripts/lib/make-test-pki.sh
/// (`pkiPath("ca.pem")`, `pkiPath("expired.pem")`, …), and `agentConfig()`
/// then points the agent at `https://localhost:PORT` with `ca_file`.
final class Cluster {
    let directory: URL
    let deviceKey: String
    let agentID = "cam-e2e"
    private(set) var children: [ChildProcess] = []
    var simcam: ChildProcess!
    var endpoint: ChildProcess!
    var streampoint: ChildProcess!
    /// The second streampoint, when startServers got `secondStreampointID`.
    var streampoint2: ChildProcess?
    var streampoint2Port = 0
    var agent: ChildProcess?
    var rtspPort = 0, httpPort = 0, endpointPort = 0, endpointAdminPort = 0, streampointPort = 0, streampointAdminPort = 0
    let ticketKey: String
    /// An admin bearer token for /api/, made by `camagent-endpoint token add` in
    /// startServers; every endpoint sharing the registry accepts it.
    var adminToken = ""
    /// Whether startServers gave both servers --tls-cert/--tls-key.
    private(set) var serversUseTLS = false

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("camagent-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        deviceKey = Cluster.randomHex(32)
        ticketKey = Cluster.randomHex(32)
    }

    static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// What `--registry` gets: a postgres:// URL when a test sets one, else the cluster's SQLite file.
    var registryLocation: String?
    var registry: String { registryLocation ?? path("registry.sqlite") }

    /// A file of the test PKI, e.g. `pkiPath("ca.pem")`; it exists once `makePKI()`
    /// or `startServers(tls: true)` has run. Certificates: server (localhost),
    /// expired, wrongname (wrong.example), other-server (signed by other-ca);
    /// each NAME has NAME.pem and NAME.key.
    func pkiPath(_ name: String) -> String { pkiDirectory.appendingPathComponent(name).path }
    var pkiDirectory: URL { directory.appendingPathComponent("pki") }

    /// Makes the test PKI in `<directory>/pki` (idempotent).
    func makePKI() throws {
        let script = Binaries.repository.appendingPathComponent("Scripts/lib/make-test-pki.sh").path
        let (status, out, err) = try run("/bin/bash", [script, pkiDirectory.path], timeout: 60)
        guard status == 0 else { throw ClusterError("make-test-pki.sh failed (\(status)):\n\(out)\(err)") }
    }

    /// The address TLS agent listeners bind. Agents connect to "localhost" (the
    /// certificates' name) and try only its first address, which is ::1 on hosts
    /// whose /etc/hosts lists it; a dual-stack [::] accepts both families there.
    static let tlsListenHost: String = {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo("localhost", nil, &hints, &list) == 0 else { return "127.0.0.1" }
        defer { freeaddrinfo(list) }
        var entry = list
        while let current = entry {
            if current.pointee.ai_family == AF_INET6 { return "[::]" }
            entry = current.pointee.ai_next
        }
        return "127.0.0.1"
    }()

    func spawn(_ name: String, _ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(name: name, executable: executable, arguments: arguments, directory: directory)
        children.append(child)
        return child
    }

    /// Starts the three servers. The agent is started separately so tests can vary it.
    /// `tls`: both servers' agent links speak TLS with `serverCert` (a PKI name:
    /// "server", "expired", "wrongname", "other-server"); the streampoint uses
    /// `streampointCert` if given, and the endpoint names it `tls://localhost:PORT`.
    /// `streampointOverride` (`ID=HOST:PORT`) points the endpoint at another streampoint, e.g. a test's fake one.
    /// `secondStreampointID` starts a second streampoint, listed after the first (so it is the first's backup).
    /// `endpointPort` fixes the endpoint's agent port (0: any free one).
    /// `endpointArguments` go to `camagent-endpoint serve` as they are (e.g. `--heartbeat 1`).
    /// `streampointHost` is the name the endpoint gives agents for the (plain) streampoint, e.g. one only a test's DNS knows.
    /// `simcamArguments` go to camagent-simcam, e.g. `--clip` with a realistic stream (`realisticMedia()`).
    func startServers(streampointID: String = "sp1", tls: Bool = false, serverCert: String = "server",
                      streampointCert: String? = nil, streampointOverride: String? = nil,
                      secondStreampointID: String? = nil, endpointPort fixedEndpointPort: Int = 0,
                      endpointArguments: [String] = [], streampointArguments: [String] = [],
                      streampointHost: String = "127.0.0.1", simcamArguments: [String] = []) throws {
        try deviceKey.write(toFile: path("device.key"), atomically: true, encoding: .utf8)
        try ticketKey.write(toFile: path("ticket.key"), atomically: true, encoding: .utf8)
        serversUseTLS = tls
        var endpointTLS: [String] = [], streampointTLS: [String] = []
        let listenHost = tls ? Cluster.tlsListenHost : "127.0.0.1"
        if tls {
            try makePKI()
            let spCert = streampointCert ?? serverCert
            endpointTLS = ["--tls-cert", pkiPath("\(serverCert).pem"), "--tls-key", pkiPath("\(serverCert).key")]
            streampointTLS = ["--tls-cert", pkiPath("\(spCert).pem"), "--tls-key", pkiPath("\(spCert).key")]
        }

        simcam = try spawn("simcam", Binaries.host("camagent-simcam"), ["--rtsp-port", "0", "--http-port", "0"] + simcamArguments)
        rtspPort = try port(fromAnnouncement: simcam.waitForLine(startingWith: "simcam: rtsp listening on "))
        httpPort = try port(fromAnnouncement: simcam.waitForLine(startingWith: "simcam: http listening on "))

        // No streampoint channel here, so no viewer-token keys: the passthrough
        // ports are opened explicitly (tests with tokens: MediaCluster, PassthroughTokenTests).
        streampoint = try spawn("streampoint", Binaries.host("camagent-streampoint"), [
            "--id", streampointID, "--listen", "\(listenHost):0", "--admin", "127.0.0.1:0",
            "--ticket-key-file", path("ticket.key"), "--passthrough-open",
        ] + streampointTLS + streampointArguments)
        streampointPort = try port(fromAnnouncement: streampoint.waitForLine(startingWith: "streampoint: agents listening on "))
        streampointAdminPort = try port(fromAnnouncement: streampoint.waitForLine(startingWith: "streampoint: admin listening on "))

        var secondStreampoint: [String] = []
        if let secondStreampointID {
            let second = try spawn("streampoint2", Binaries.host("camagent-streampoint"), [
                "--id", secondStreampointID, "--listen", "\(listenHost):0", "--admin", "127.0.0.1:0",
                "--ticket-key-file", path("ticket.key"), "--passthrough-open",
            ] + streampointTLS + streampointArguments)
            streampoint2 = second
            streampoint2Port = try port(fromAnnouncement: second.waitForLine(startingWith: "streampoint: agents listening on "))
            _ = try second.waitForLine(startingWith: "streampoint: admin listening on ")
            secondStreampoint = ["--streampoint", "\(secondStreampointID)=" + (tls ? "tls://localhost:\(streampoint2Port)" : "127.0.0.1:\(streampoint2Port)")]
        }

        let (status, _, enrollErr) = try run(Binaries.host("camagent-endpoint"), [
            "enroll", "--registry", registry, "--id", agentID, "--key-file", path("device.key"),
        ])
        guard status == 0 else { throw ClusterError("enroll failed: \(enrollErr)") }
        if adminToken.isEmpty { adminToken = try addToken(name: "e2e-admin", role: "admin") }
        let streampointAddress = tls ? "tls://localhost:\(streampointPort)" : "\(streampointHost):\(streampointPort)"
        endpoint = try spawn("endpoint", Binaries.host("camagent-endpoint"), [
            "serve", "--listen", "\(listenHost):\(fixedEndpointPort)", "--admin", "127.0.0.1:0", "--registry", registry,
            "--ticket-key-file", path("ticket.key"),
            "--streampoint", streampointOverride ?? "\(streampointID)=\(streampointAddress)",
        ] + secondStreampoint + endpointTLS + endpointArguments)
        endpointPort = try port(fromAnnouncement: endpoint.waitForLine(startingWith: "endpoint: agents listening on "))
        endpointAdminPort = try port(fromAnnouncement: endpoint.waitForLine(startingWith: "endpoint: admin listening on "))
    }

    /// `camagent-endpoint token add` as an operator runs it; returns the printed token.
    func addToken(name: String, role: String) throws -> String {
        let (status, out, err) = try run(Binaries.host("camagent-endpoint"), [
            "token", "add", "--registry", registry, "--name", name, "--role", role,
        ])
        let token = out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, token.hasPrefix("cat_"), token.count == 47 else {
            throw ClusterError("token add failed (\(status)): \(err)")
        }
        return token
    }

    /// `tls` (default: as the servers run) gives `endpoint = https://localhost:PORT`
    /// and `ca_file` (default: the test CA) instead of `endpoint = http://127.0.0.1:PORT`
    /// with `allow_plaintext = yes` (the agent refuses plain servers without it).
    /// `rtspPath` follows the port of the `rtsp` target (`/main` gives `target = rtsp=127.0.0.1:PORT/main`).
    func agentConfig(key: String? = nil, endpointPort: Int? = nil, tls: Bool? = nil, caFile: String? = nil,
                     rtspPath: String = "", extra: String = "") -> String {
        let endpointPort = endpointPort ?? self.endpointPort
        let endpointLines = (tls ?? serversUseTLS)
            ? "endpoint = https://localhost:\(endpointPort)\nca_file = \(caFile ?? pkiPath("ca.pem"))"
            : "endpoint = http://127.0.0.1:\(endpointPort)\nallow_plaintext = yes"
        return """
        agent_id = \(agentID)
        device_key = \(key ?? deviceKey)
        \(endpointLines)
        target = rtsp=127.0.0.1:\(rtspPort)\(rtspPath)
        target = http=127.0.0.1:\(httpPort)
        backoff_initial_ms = 200
        backoff_max_ms = 2000
        \(extra)
        """
    }

    /// The agent binary: the host build, or a cross-built one under its emulator.
    @discardableResult
    func startAgent(config: String? = nil, name: String = "agent", binary: String? = nil, runner: String? = nil) throws -> ChildProcess {
        try (config ?? agentConfig()).write(toFile: path("\(name).conf"), atomically: true, encoding: .utf8)
        let environment = ProcessInfo.processInfo.environment
        let binary = binary ?? environment["CAMAGENT_AGENT"] ?? Binaries.host("camagent")
        var executable = binary
        var arguments = ["--config", path("\(name).conf")]
        if let runner = runner ?? environment["CAMAGENT_AGENT_RUNNER"], !runner.isEmpty {
            let parts = runner.split(separator: " ").map(String.init)
            executable = parts[0].hasPrefix("/") ? parts[0] : (which(parts[0]) ?? parts[0])
            arguments = Array(parts.dropFirst()) + [binary] + arguments
        }
        let child = try spawn(name, executable, arguments)
        agent = child
        return child
    }

    /// Waits for the streampoint to announce the agent's target and returns its URL.
    func viewerURL(target: String, timeout: TimeInterval = 30) throws -> String {
        try streampoint.waitForLine(startingWith: "streampoint: agent \(agentID) target \(target) at ", timeout: timeout)
    }

    func stop() {
        for child in children.reversed() { child.stop() }
    }

    /// Every log the cluster wrote, for failure messages and secret scans.
    var allLogs: String {
        children.map { "--- \($0.name) stdout\n\($0.stdout)\n--- \($0.name) stderr\n\($0.stderr)" }.joined(separator: "\n")
    }

    func removeDirectory() { try? FileManager.default.removeItem(at: directory) }
}

/// The bytes of a SQLite registry and its write-ahead log, as text: what a
/// reader of the files could find (verifiers are stored as hex text).
func registryFileText(_ path: String) -> String {
    [path, path + "-wal"].compactMap { FileManager.default.contents(atPath: $0) }
        .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
}

/// VmRSS of a process in KiB.
func residentSetKiB(_ pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
        throw ClusterError("no VmRSS for \(pid)")
    }
    return kib
}
