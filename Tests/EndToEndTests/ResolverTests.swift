import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The agent's DNS client runs inside its poll loop: a name server that never
/// answers, answers late, or is raced by a spoofer must not freeze the agent,
/// strand it, or fool it. A fake DNS server on loopback plays each part; the
/// agent finds it through `resolv_conf` (with the test-only `IP:PORT` form) and
/// gets an empty `hosts_file`, so the machine's own files play no part.
extension EndToEnd {
@Suite struct ResolverTests {
    @Test func aSilentNameServerFreezesNothingAndTheKnownAddressIsUsed() throws {
        let dns = try FakeDNSServer(behaviour: .silent, answers: [:])
        defer { dns.stop() }
        let cluster = try Cluster()
        var relay: TimingRelay?
        defer {
            relay?.stop()
            cluster.stop()
            cluster.removeDirectory()
        }
        // The endpoint names the streampoint "sp.camagent.test", which only DNS could answer:
        // the agent keeps resolving it (and failing) while its endpoint link is up.
        try cluster.startServers(endpointArguments: ["--heartbeat", "1", "--peer-timeout", "3"], streampointHost: "sp.camagent.test")
        relay = try TimingRelay(targetPort: cluster.endpointPort)
        let endpointURL = "http://endpoint.camagent.test:\(relay!.port)"
        try "known_address = \(endpointURL) 127.0.0.1\ncomplete = yes\n".write(toFile: cluster.path("state"), atomically: true, encoding: .utf8)
        let agent = try cluster.startAgent(config: config(cluster, dns: dns, endpoint: endpointURL, state: true))

        // No answer within the lookup's limit: the known address, with the warning.
        _ = try waitForLog(agent, containing: "endpoint: authenticated", timeout: 30)
        #expect(agent.stderr.contains("endpoint: cannot resolve endpoint.camagent.test: no answer from the name servers; using the last known address"),
                "\(agent.stderr)")
        // Then the streampoint's name hangs, again and again, while heartbeats flow each second.
        _ = try waitForLog(agent, containing: "cannot resolve sp.camagent.test", timeout: 30)
        let measuredFrom = Date()
        Thread.sleep(forTimeInterval: 8)
        let sent = relay!.chunkTimes(after: measuredFrom)
        var widest: TimeInterval = 0
        for (earlier, later) in zip(sent, sent.dropFirst()) { widest = max(widest, later.timeIntervalSince(earlier)) }
        let streampointQueries = dns.queries.filter { $0.name == "sp.camagent.test" && $0.at > measuredFrom }.count
        print("resolver: silent DNS: \(sent.count) chunks to the endpoint in 8 s, widest gap \(String(format: "%.2f", widest)) s (heartbeat 1 s); \(streampointQueries) queries for the streampoint meanwhile")
        #expect(streampointQueries > 0, "the agent was not resolving during the measurement\n\(agent.stderr)")
        #expect(sent.count >= 6, "too few heartbeats: \(sent.count)\n\(agent.stderr)")
        // A heartbeat is due every 1 s; a loop frozen by a lookup would show its whole 6 s limit.
        #expect(widest < 1.5, "widest gap \(widest) s\n\(agent.stderr)")
        #expect(!agent.stderr.contains("peer silent"), "\(agent.stderr)")
        #expect(agent.isRunning)
    }

    @Test func aLateAnswerIsWaitedForAndUsed() throws {
        let dns = try FakeDNSServer(behaviour: .delayed(5), answers: ["endpoint.camagent.test": [127, 0, 0, 1]])
        defer { dns.stop() }
        let cluster = try Cluster()
        defer {
            cluster.stop()
            cluster.removeDirectory()
        }
        try cluster.startServers()
        let started = Date()
        let agent = try cluster.startAgent(config: config(cluster, dns: dns, endpoint: "http://endpoint.camagent.test:\(cluster.endpointPort)"))
        let authenticated = try waitForLog(agent, containing: "endpoint: authenticated", timeout: 30)
        let seconds = authenticated.timeIntervalSince(started)
        print("resolver: answer after 5 s: authenticated \(String(format: "%.1f", seconds)) s after start")
        #expect(seconds >= 5, "\(agent.stderr)")
        #expect(seconds < 10, "\(agent.stderr)")
        #expect(!agent.stderr.contains("connect failed"), "\(agent.stderr)")
        _ = try cluster.viewerURL(target: "rtsp")
    }

    @Test func aSpoofedAnswerWithTheWrongIDIsIgnored() throws {
        // Each query gets, first, an answer with the wrong id pointing at 127.0.0.9
        // (nothing listens there), then the real one.
        let dns = try FakeDNSServer(behaviour: .spoofFirst(decoy: [127, 0, 0, 9]), answers: ["endpoint.camagent.test": [127, 0, 0, 1]])
        defer { dns.stop() }
        let cluster = try Cluster()
        defer {
            cluster.stop()
            cluster.removeDirectory()
        }
        try cluster.startServers()
        let agent = try cluster.startAgent(config: config(cluster, dns: dns, endpoint: "http://endpoint.camagent.test:\(cluster.endpointPort)",
                                                          extra: "log_level = debug"))
        _ = try waitForLog(agent, containing: "endpoint: authenticated", timeout: 30)
        #expect(agent.stderr.contains("DNS datagram ignored: wrong id"), "\(agent.stderr)")
        #expect(!agent.stderr.contains("connect failed"), "\(agent.stderr)")
        #expect(!agent.stderr.contains("trying the next address"), "\(agent.stderr)")
        // One lookup answered on the first try: one A and one AAAA question.
        #expect(dns.queries.filter { $0.name == "endpoint.camagent.test" }.count == 2, "\(dns.queries)")
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() throws {
        let dns = try FakeDNSServer(behaviour: .truncatedOverUDP, answers: ["endpoint.camagent.test": [127, 0, 0, 1]])
        defer { dns.stop() }
        let cluster = try Cluster()
        defer {
            cluster.stop()
            cluster.removeDirectory()
        }
        try cluster.startServers()
        let agent = try cluster.startAgent(config: config(cluster, dns: dns, endpoint: "http://endpoint.camagent.test:\(cluster.endpointPort)"))
        _ = try waitForLog(agent, containing: "endpoint: authenticated", timeout: 30)
        let asked = dns.queries.filter { $0.name == "endpoint.camagent.test" }
        #expect(asked.filter { !$0.overTCP }.count == 2 && asked.filter { $0.overTCP }.count == 2, "\(asked)")
        #expect(!agent.stderr.contains("connect failed"), "\(agent.stderr)")
    }

    private func config(_ cluster: Cluster, dns: FakeDNSServer, endpoint: String, state: Bool = false, extra: String = "") throws -> String {
        try "nameserver 127.0.0.1:\(dns.port)\noptions timeout:5 attempts:2\n".write(toFile: cluster.path("resolv.conf"), atomically: true, encoding: .utf8)
        try "# empty: names come from the test's DNS server\n".write(toFile: cluster.path("hosts"), atomically: true, encoding: .utf8)
        return """
        agent_id = \(cluster.agentID)
        device_key = \(cluster.deviceKey)
        endpoint = \(endpoint)
        allow_plaintext = yes
        target = rtsp=127.0.0.1:\(cluster.rtspPort)
        backoff_initial_ms = 200
        backoff_max_ms = 2000
        resolv_conf = \(cluster.path("resolv.conf"))
        hosts_file = \(cluster.path("hosts"))
        \(state ? "state_file = \(cluster.path("state"))" : "")
        \(extra)
        """
    }

    private func waitForLog(_ child: ChildProcess, containing text: String, timeout: TimeInterval) throws -> Date {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if child.stderr.contains(text) { return Date() }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ClusterError("\(child.name) did not log '\(text)' within \(Int(timeout)) s\n\(child.stderr)")
    }
}
}

/// A DNS server on 127.0.0.1 (ephemeral UDP port) for one test. It answers A
/// questions from `answers`, AAAA with no data, and everything after its
/// `behaviour`; it records every question it got.
final class FakeDNSServer {
    enum Behaviour {
        case silent
        case delayed(TimeInterval)
        /// A wrong-id answer with `decoy` first, from the same address and port, then the real one.
        case spoofFirst(decoy: [UInt8])
        /// Over UDP only a truncated answer (TC, no records); the real one over TCP on the same port.
        case truncatedOverUDP
    }

    struct Query: CustomStringConvertible {
        var name: String
        var type: UInt16
        var at: Date
        var overTCP = false
        var description: String { "\(name)/\(type)\(overTCP ? "/tcp" : "")" }
    }

    let port: Int
    private let fd: Int32
    /// The TCP listener of `.truncatedOverUDP`, on the same port number.
    private var tcpServer: RawServer?
    private let behaviour: Behaviour
    private let answers: [String: [UInt8]]
    private let lock = NSLock()
    private var received: [Query] = []
    private var stopped = false

    var queries: [Query] { lock.withLock { received } }

    init(behaviour: Behaviour, answers: [String: [UInt8]]) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard fd >= 0, rc == 0 else { throw ClusterError("cannot bind a UDP port") }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.behaviour = behaviour
        self.answers = answers
        if case .truncatedOverUDP = behaviour {
            tcpServer = try RawServer(port: port)
        }
        Thread { [self] in serve() }.start()
    }

    func stop() {
        lock.withLock { stopped = true }
        // The loop wakes every 20 ms; give it a moment before the socket goes.
        Thread.sleep(forTimeInterval: 0.1)
        close(fd)
    }

    private func serve() {
        var due: [(at: Date, packet: [UInt8], to: sockaddr_in)] = []
        let giveUp = Date().addingTimeInterval(180)
        while Date() < giveUp && !lock.withLock({ stopped }) {
            let now = Date()
            for item in due where item.at <= now { send(item.packet, to: item.to) }
            due.removeAll { $0.at <= now }
            if let tcpServer, let client = tcpServer.accept(timeout: 0) {
                answerOverTCP(client, at: now)
                close(client)
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) == 1 else { continue }
            var buffer = [UInt8](repeating: 0, count: 1500)
            var from = sockaddr_in()
            var fromLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, 0, $0, &fromLength) }
                }
            }
            guard n > 12, let (name, type, questionEnd) = FakeDNSServer.question(Array(buffer[0..<n])) else { continue }
            let query = Array(buffer[0..<questionEnd])
            lock.withLock { received.append(Query(name: name, type: type, at: now)) }
            let real = FakeDNSServer.answer(query, type: type, address: answers[name])
            switch behaviour {
            case .silent:
                break
            case .delayed(let seconds):
                due.append((now.addingTimeInterval(seconds), real, from))
            case .spoofFirst(let decoy):
                var spoof = FakeDNSServer.answer(query, type: type, address: type == 1 ? decoy : nil)
                spoof[1] &+= 1
                send(spoof, to: from)
                due.append((now.addingTimeInterval(0.1), real, from))
            case .truncatedOverUDP:
                var truncated = FakeDNSServer.answer(query, type: type, address: nil)
                truncated[2] |= 0x02
                send(truncated, to: from)
            }
        }
    }

    /// One length-prefixed question on an accepted connection, answered in full.
    private func answerOverTCP(_ client: Int32, at now: Date) {
        var message: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        while message.count < 2 || message.count < 2 + (Int(message[0]) << 8 | Int(message[1])) {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return }
            message += buffer[0..<n]
        }
        let packet = Array(message[2...])
        guard let (name, type, questionEnd) = FakeDNSServer.question(packet) else { return }
        lock.withLock { received.append(Query(name: name, type: type, at: now, overTCP: true)) }
        let real = FakeDNSServer.answer(Array(packet[0..<questionEnd]), type: type, address: answers[name])
        let framed = [UInt8(real.count >> 8), UInt8(real.count & 0xFF)] + real
        _ = framed.withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func send(_ packet: [UInt8], to address: sockaddr_in) {
        var address = address
        _ = packet.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The question's name (lowercased), type, and where it ends.
    static func question(_ packet: [UInt8]) -> (String, UInt16, Int)? {
        var offset = 12
        var labels: [String] = []
        while offset < packet.count, packet[offset] != 0 {
            let length = Int(packet[offset])
            guard length < 64, offset + 1 + length < packet.count else { return nil }
            labels.append(String(decoding: packet[(offset + 1)...(offset + length)], as: UTF8.self).lowercased())
            offset += 1 + length
        }
        guard offset + 5 <= packet.count else { return nil }
        let type = UInt16(packet[offset + 1]) << 8 | UInt16(packet[offset + 2])
        return (labels.joined(separator: "."), type, offset + 5)
    }

    /// A response to `query` (header + question): one A record if `address` is given and the type is A, else no data.
    static func answer(_ query: [UInt8], type: UInt16, address: [UInt8]?) -> [UInt8] {
        var packet = query
        packet[2] = 0x81
        packet[3] = 0x80
        packet[6] = 0
        packet[7] = 0
        if type == 1, let address {
            packet[7] = 1
            packet += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
        }
        return packet
    }
}

/// A TCP relay on 127.0.0.1 that forwards to `targetPort` and timestamps what
/// the connecting side sends: the agent's heartbeats, seen from outside it.
final class TimingRelay {
    let port: Int
    private let server: RawServer
    private let targetPort: Int
    private let lock = NSLock()
    private var times: [Date] = []
    private var stopped = false

    init(targetPort: Int) throws {
        server = try RawServer()
        port = server.port
        self.targetPort = targetPort
        let accepting = Thread { [unowned self] in self.acceptLoop() }
        accepting.start()
    }

    func chunkTimes(after start: Date) -> [Date] { lock.withLock { times.filter { $0 >= start } } }

    func stop() {
        lock.withLock { stopped = true }
        Thread.sleep(forTimeInterval: 0.3)
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func acceptLoop() {
        let giveUp = Date().addingTimeInterval(180)
        while !isStopped && Date() < giveUp {
            guard let client = server.accept(timeout: 1) else { continue }
            guard let upstream = try? connectLoopback(port: targetPort) else {
                close(client)
                continue
            }
            Thread { [unowned self] in self.pump(client, upstream) }.start()
        }
    }

    private func pump(_ client: Int32, _ upstream: Int32) {
        defer {
            close(client)
            close(upstream)
        }
        var buffer = [UInt8](repeating: 0, count: 16384)
        let giveUp = Date().addingTimeInterval(180)
        while !isStopped && Date() < giveUp {
            var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, 100) > 0 else { continue }
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let from = index == 0 ? client : upstream, to = index == 0 ? upstream : client
                let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return }
                if index == 0 { lock.withLock { times.append(Date()) } }
                _ = buffer.withUnsafeBytes { Glibc.send(to, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
            }
        }
    }
}
