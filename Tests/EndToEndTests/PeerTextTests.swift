import CamProtocol
import Foundation
import Testing

extension EndToEnd {
/// Issue 14, finding 9: an independent server forged whole log lines through
/// text the agent logged unescaped. Hostile servers here send a forged line in
/// an ERROR text before authentication, a host with a newline in
/// STREAMPOINT_ASSIGN and a host with a NUL byte in TUNNEL_OPEN. No log line
/// of any process may hold a control byte, and the agent keeps running.
@Suite struct PeerTextTests {
    static let forgedLine = "2026-12-02T10:00:00Z info camagent: endpoint: authenticated to 203.0.113.9:443 as cam-0001; retrying in 843 ms"

    @Test func hostileServersCannotForgeOrCorruptLogLines() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let evilEndpoint = try RawServer()
        let evilStreampoint = try RawServer()
        try cluster.startServers(streampointOverride: "evil=127.0.0.1:\(evilStreampoint.port)")
        let agent = try cluster.startAgent(config: cluster.agentConfig(endpointPort: evilEndpoint.port, tls: false))

        // 1. Before authentication: an ERROR whose text carries a whole forged line.
        let first = try #require(evilEndpoint.accept(timeout: 20).map(ServerLink.init), "the agent never came")
        #expect(try first.next()?.kind == .hello)
        first.send(.helloAck(version: 1, server: "evil"))
        first.send(.error(code: .shuttingDown, message: "bye\n" + Self.forgedLine))
        #expect(waitFor(agent, toLog: "bye\\x0a2026-12-02T10:00:00Z"), "\(agent.stderr)")

        // 2. The next dial: a STREAMPOINT_ASSIGN whose host holds a newline is a
        //    protocol violation, not a name for the resolver.
        let second = try #require(evilEndpoint.accept(timeout: 20).map(ServerLink.init), "the agent did not come back")
        #expect(try second.next()?.kind == .hello)
        second.send(.helloAck(version: 1, server: "evil"))
        second.send(.streampointAssign(streampointID: "sp1", host: "sp1.example.net\n" + Self.forgedLine, port: 443, ticket: [1]))
        #expect(waitFor(agent, toLog: "host field in STREAMPOINT_ASSIGN is not a host name"), "\(agent.stderr)")

        // 3. A real endpoint sends the agent to a hostile streampoint, which asks
        //    for a tunnel to a host with a NUL byte.
        cluster.agent?.stop()
        let real = try cluster.startAgent(name: "agent2")
        let link = try #require(evilStreampoint.accept(timeout: 20).map(ServerLink.init), "the agent never reached the streampoint")
        #expect(try link.next()?.kind == .hello)
        link.send(.helloAck(version: 1, server: "evil"))
        #expect(try link.next()?.kind == .streamRegister)
        link.send(.streamRegistered(streampointID: "evil"))
        link.send(.tunnelOpen(tunnelID: 1, host: "127.0.0.1\u{0}\n" + Self.forgedLine, port: UInt16(cluster.rtspPort),
                              bindToken: [UInt8](repeating: 7, count: 16)))
        #expect(waitFor(real, toLog: "host field in TUNNEL_OPEN is not a host name"), "\(real.stderr)")
        #expect(real.isRunning)

        for (name, log) in [("agent", agent.stderr), ("agent2", real.stderr), ("endpoint", cluster.endpoint.stderr),
                            ("streampoint", cluster.streampoint.stderr)] {
            for line in log.split(separator: "\n", omittingEmptySubsequences: false) {
                #expect(!line.hasPrefix("2026-12-02T10:00:00Z"), "\(name) logged a forged line")
                #expect(!line.utf8.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }, "\(name): control byte in \(line.debugDescription)")
            }
        }
    }

    private func waitFor(_ process: ChildProcess, toLog text: String, seconds: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if process.stderr.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }
}
}
