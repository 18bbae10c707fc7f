import ArgumentParser
import CamCore
import CamNIO
import CamProtocol
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run N simulated agents against a real endpoint and streampoint, and report how they come up and reconnect.",
        discussion: """
            Every simulated agent is the agent's own state machine (CamCore's AgentCore,
            the code the camera runs), with its reconnect backoff and jitter, driven by
            SwiftNIO event loops instead of the camera's poll loop. Agents authenticate
            to the endpoint with keys derived from --key-seed (enroll them first with
            `camagent-fleet make-registry`), then register at the streampoint the
            endpoint names. They announce the --target entries (none by default, so the
            streampoint opens no viewer ports) and never carry video.

            What it prints (stdout; lines start with "fleet: "):
              1. progress every second while the fleet comes up, then the time until
                 all N were authenticated and registered. With --cold-start every
                 agent starts as if its system had just booted, so its first dial
                 waits its place in --boot-jitter-ms, as a camera's does after a power
                 cut: compare runs with and without it to see what the jitter buys;
              2. with --streampoint-pid/--endpoint-pid: each server's RSS before the
                 fleet and with it, and the difference per connected agent;
              3. with --endpoint-restart: "fleet: ready for the endpoint restart", then
                 it waits for you to kill the endpoint and start it again (same
                 address). It records, per agent, the time from losing the endpoint to
                 being authenticated again, and the endpoint connection attempts of the
                 whole fleet per 100 ms, and prints a histogram of both.

            No storm: after a lost session the agent waits a random delay in the upper
            half of its initial backoff, [I/2, I], and every failure doubles the range.
            N agents that lose the endpoint at once therefore attempt at about
            N*100/(I/2) per 100 ms in the first wave, and all later waves together add
            at most as much again. The fleet checks the peak against that bound
            (2*N*200/I per 100 ms, plus 4 standard deviations of noise); an agent
            population in lockstep would put all N attempts into one 100 ms.

            Exit status: 0 when every agent came up, and (with --endpoint-restart) every
            agent came back within --restart-timeout with the peak attempt rate inside
            the bound; 1 otherwise, with the reason.

            Agent log lines are counted, not printed: the report shows the number per
            level and each kind of warning once (--trace-agent prints one agent's lines).

            The fleet raises its open-file limit (RLIMIT_NOFILE) itself: each agent
            holds two sockets. The servers need about one per agent (they raise theirs
            too); the kernel's ephemeral ports (about 28,000 on loopback by default) bound
            how many agents one address can hold.

            Example (TLS, 10,000 agents, measuring an endpoint restart):
              camagent-fleet make-registry --count 10000 --key-seed fleet.seed --out fleet.sqlite
              camagent-endpoint serve --registry fleet.sqlite ... &
              camagent-fleet run --endpoint https://localhost:7000 --ca-file ca.pem \\
                  --count 10000 --key-seed fleet.seed --endpoint-restart \\
                  --streampoint-pid $(pgrep -n camagent-stream) --endpoint-pid $!
              # when it prints "fleet: ready for the endpoint restart":
              kill -9 <endpoint pid>; camagent-endpoint serve --listen ... (same port)
            """
    )

    @Option(help: ArgumentHelp("The endpoint, as in the agent's config: https://HOST:PORT (TLS, needs --ca-file) or http://HOST:PORT (plain TCP, lab only).", valueName: "url"))
    var endpoint: String

    @Option(help: ArgumentHelp("PEM CA bundle the servers' certificates must chain to (the agent's ca_file).", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("How many agents to run (ids PREFIX000001 ... as enrolled by make-registry).", valueName: "n"))
    var count: Int

    @Option(help: ArgumentHelp("The seed file given to make-registry.", valueName: "file"))
    var keySeed: String

    @Option(help: ArgumentHelp("Agent id prefix given to make-registry.", valueName: "text"))
    var idPrefix: String = FleetIdentity.defaultPrefix

    @Option(help: ArgumentHelp("A target every agent announces, NAME=HOST:PORT as in the agent's config (repeatable). Each makes the streampoint open a viewer port per agent.", valueName: "name=host:port"))
    var target: [String] = []

    @Option(help: ArgumentHelp("First reconnect backoff (the agent's backoff_initial_ms).", valueName: "ms"))
    var backoffInitialMs: Int = 1000

    @Option(help: ArgumentHelp("Longest reconnect backoff (the agent's backoff_max_ms).", valueName: "ms"))
    var backoffMaxMs: Int = 60000

    @Option(help: ArgumentHelp("Start the agents evenly over this many seconds instead of all at once.", valueName: "s"))
    var rampSeconds: Double = 0

    @Flag(help: "Start every agent as if its system had just booted (a power cut ending for all at once): each first dial then waits its place in --boot-jitter-ms, as on a camera. Without it the agents start as a restarted process does, dialling at once.")
    var coldStart = false

    @Option(help: ArgumentHelp("The agent's boot_jitter_ms: with --cold-start, the first dial waits a delay in [0, ms) spread by agent id (0: no jitter).", valueName: "ms"))
    var bootJitterMs: Int = 3000

    @Option(help: ArgumentHelp("Give up (exit 1) if not every agent is up this long after the start.", valueName: "s"))
    var upTimeout: Double = 120

    @Flag(help: "After all are up, wait for the endpoint to be killed and restarted, and measure the reconnects.")
    var endpointRestart = false

    @Option(help: ArgumentHelp("With --endpoint-restart: give up (exit 1) if the endpoint is not lost, or not every agent back, this long after \"ready\".", valueName: "s"))
    var restartTimeout: Double = 120

    @Option(help: ArgumentHelp("Process id of the streampoint, to report its RSS per connected agent.", valueName: "pid"))
    var streampointPid: Int32?

    @Option(help: ArgumentHelp("Process id of the endpoint, to report its RSS per connected agent.", valueName: "pid"))
    var endpointPid: Int32?

    @Option(help: ArgumentHelp("Keep the fleet connected this long before exiting (to look at the servers).", valueName: "s"))
    var hold: Double = 0

    @Option(help: ArgumentHelp("Event-loop threads (default: one per core).", valueName: "n"))
    var threads: Int = System.coreCount

    @Option(help: ArgumentHelp("Print every log line of agent number N (1-based) to stderr.", valueName: "n"))
    var traceAgent: Int?

    func validate() throws {
        try validateFleetSize(count)
        try validateIDPrefix(idPrefix)
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1 to 256") }
        guard rampSeconds >= 0, rampSeconds <= 3600 else { throw ValidationError("--ramp-seconds must be 0 to 3600") }
        guard upTimeout > 0, restartTimeout > 0, hold >= 0 else {
            throw ValidationError("--up-timeout and --restart-timeout must be positive, --hold not negative")
        }
        if let traceAgent, !(1...count).contains(traceAgent) {
            throw ValidationError("--trace-agent must name an agent from 1 to \(count)")
        }
        _ = try agentConfigTemplate()
    }

    /// The fleet's agent config, parsed by the agent's own ConfigParser so the
    /// URL, backoff and target rules are exactly the camera's.
    func agentConfigTemplate() throws -> AgentConfig {
        var lines = ["agent_id = fleet-template", "device_key = \(String(repeating: "00", count: 32))"]
        lines.append("endpoint = \(endpoint)")
        if endpoint.hasPrefix("http://") { lines.append("allow_plaintext = yes") }
        if let caFile { lines.append("ca_file = \(absolutePath(caFile))") }
        // The parser wants a target; fleet agents may have none (removed below).
        lines += target.isEmpty ? ["target = none=127.0.0.1:9"] : target.map { "target = \($0)" }
        lines.append("backoff_initial_ms = \(backoffInitialMs)")
        lines.append("backoff_max_ms = \(backoffMaxMs)")
        lines.append("boot_jitter_ms = \(bootJitterMs)")
        var config: AgentConfig
        do {
            config = try ConfigParser.parse(lines.joined(separator: "\n"))
        } catch {
            throw ValidationError(Self.explain(error))
        }
        if target.isEmpty { config.targets = [] }
        return config
    }

    private static func explain(_ error: ConfigError) -> String {
        let option: String
        switch error.key {
        case "endpoint": option = "--endpoint"
        case "ca_file": option = "--ca-file"
        case "target": option = "--target"
        case "backoff_initial_ms": option = "--backoff-initial-ms"
        case "backoff_max_ms": option = "--backoff-max-ms"
        case "boot_jitter_ms": option = "--boot-jitter-ms"
        default: option = error.key
        }
        return "\(option): \(error.problem)"
    }

    private func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    private func makeTLSContext(_ config: AgentConfig) throws -> NIOSSLContext? {
        guard let caFile = config.caFile else { return nil }
        do {
            _ = try NIOSSLCertificate.fromPEMFile(caFile)
        } catch {
            throw ValidationError("--ca-file \(caFile): cannot read a PEM certificate from it")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        // The groups a camera's mbedTLS offers. BoringSSL's default adds the
        // post-quantum hybrid, whose key share costs the fleet (and the servers)
        // far more CPU per handshake than any camera would.
        tls.curves = [.x25519, .secp256r1]
        return try NIOSSLContext(configuration: tls)
    }

    func run() throws {
        let template = try agentConfigTemplate()
        let identity = try loadFleetIdentity(seedFile: keySeed, prefix: idPrefix)
        let tls = try makeTLSContext(template)
        let fileLimit = OpenFileLimit.raise(to: UInt64(count) * 2 + 1024)
        if fileLimit < UInt64(count) * 2 + 64 {
            say("warning: open-file limit is \(fileLimit); \(count) agents need about \(count * 2) descriptors")
        }

        let servers = ServerMemory(streampointPid: streampointPid, endpointPid: endpointPid)
        let recorder = FleetRecorder(count: count, origin: FleetClock.nowMs())
        let environment = FleetEnvironment(tls: tls, recorder: recorder, addresses: AddressCache(),
                                           tracedAgent: traceAgent.map { $0 - 1 })
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }

        var agents: [SimulatedAgent] = []
        agents.reserveCapacity(count)
        for index in 0..<count {
            var config = template
            let id = identity.agentID(index + 1)
            config.identity = AgentIdentity(agentID: id, deviceKey: identity.deviceKey(agentID: id))
            agents.append(SimulatedAgent(index: index, config: config, loop: group.next(), environment: environment))
        }
        let mode = template.endpoints[0].tls ? "TLS" : "plain TCP"
        say("starting \(count) agents against \(template.endpoints[0].display) (\(mode)) on \(threads) threads"
            + (rampSeconds > 0 ? ", spread over \(rampSeconds) s" : ", all at once")
            + "; backoff \(backoffInitialMs)-\(backoffMaxMs) ms"
            + (coldStart ? "; cold start (boot jitter 0-\(bootJitterMs) ms)" : ""))

        let bringUp = FleetBringUp(recorder: recorder, count: count)
        let startTime = FleetClock.nowMs()
        for (index, agent) in agents.enumerated() {
            let offset = rampSeconds > 0 ? Int64(rampSeconds * 1000 * Double(index) / Double(count)) : 0
            agent.start(at: FleetClock.deadline(ms: startTime + offset), coldStart: coldStart)
        }
        var failed = !bringUp.waitForAll(since: startTime, timeoutMs: Int64(upTimeout * 1000))
        if !failed {
            // Let the servers settle (TLS buffers, allocator) before reading their memory.
            Thread.sleep(forTimeInterval: 1)
            servers.reportWithFleet(agents: count)
            if endpointRestart {
                failed = !RestartMeasurement(recorder: recorder, count: count, initialBackoffMs: Int64(backoffInitialMs))
                    .run(timeoutMs: Int64(restartTimeout * 1000))
            }
        }
        if !failed && hold > 0 {
            say("holding the fleet for \(hold) s")
            Thread.sleep(forTimeInterval: hold)
        }
        for line in recorder.logSummary().lines() { say(line) }
        say("stopping")
        _ = try? EventLoopFuture.andAllComplete(agents.map { $0.stop() }, on: group.next()).wait()
        if failed { throw ExitCode(1) }
    }
}

/// One "fleet: ..." line on stdout, flushed (tests wait for lines).
func say(_ text: String) {
    print("fleet: \(text)")
    fflush(stdout)
}

/// Waits for every agent to be authenticated and registered, printing progress.
struct FleetBringUp {
    let recorder: FleetRecorder
    let count: Int

    func waitForAll(since start: Int64, timeoutMs: Int64) -> Bool {
        var nextReport = start + 1000
        var attemptsReported = 0
        while true {
            let now = FleetClock.nowMs()
            let snapshot = recorder.snapshot()
            let attempts = snapshot.endpointAttempts.reduce(0, +)
            if snapshot.endpointUp == count && snapshot.streampointUp == count {
                let firstUp = recorder.firstUpTimes(startedAt: Array(repeating: start, count: count)).sorted()
                say("all \(count) agents up (authenticated and registered) in \(Report.seconds(now - start)); "
                    + "\(attempts) endpoint connection attempts, peak \(snapshot.endpointAttempts.max() ?? 0) per 100 ms")
                say("time to authenticated: p50 \(Report.seconds(Report.percentile(firstUp, 0.5))), "
                    + "p99 \(Report.seconds(Report.percentile(firstUp, 0.99))), max \(Report.seconds(firstUp.last ?? 0))")
                say("result bring-up agents=\(count) all_up_ms=\(now - start) attempts=\(attempts) "
                    + "peak_attempts_per_100ms=\(snapshot.endpointAttempts.max() ?? 0)")
                return true
            }
            if now - start >= timeoutMs {
                say("FAILED: after \(Report.seconds(now - start)) only \(snapshot.endpointUp) of \(count) agents are authenticated "
                    + "and \(snapshot.streampointUp) registered")
                return false
            }
            if now >= nextReport {
                say("\(Report.seconds(now - start)): \(snapshot.endpointUp)/\(count) authenticated, "
                    + "\(snapshot.streampointUp) registered; \(attempts - attemptsReported) endpoint connection attempts in the last second")
                attemptsReported = attempts
                nextReport += 1000
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

/// RSS of the servers without the fleet (at startup) and with it.
struct ServerMemory {
    let streampointPid: Int32?
    let endpointPid: Int32?
    private var idle: [String: Int] = [:]

    init(streampointPid: Int32?, endpointPid: Int32?) {
        self.streampointPid = streampointPid
        self.endpointPid = endpointPid
        for (name, pid) in servers {
            if let kib = ProcessMemory.residentKiB(pid: pid) {
                idle[name] = kib
            } else {
                say("warning: cannot read the memory of the \(name) (pid \(pid)); is it running?")
            }
        }
    }

    private var servers: [(String, Int32)] {
        [("streampoint", streampointPid), ("endpoint", endpointPid)].compactMap { name, pid in pid.map { (name, $0) } }
    }

    func reportWithFleet(agents: Int) {
        for (name, pid) in servers {
            guard let before = idle[name], let after = ProcessMemory.residentKiB(pid: pid) else { continue }
            let perAgent = Double(after - before) * 1024 / Double(agents)
            let bytes = String(format: "%.0f", perAgent)
            say("\(name) RSS: \(before) KiB idle, \(after) KiB with \(agents) agents: \(bytes) bytes per connected agent")
            say("result rss server=\(name) idle_kib=\(before) with_fleet_kib=\(after) agents=\(agents) bytes_per_agent=\(bytes)")
        }
    }
}
