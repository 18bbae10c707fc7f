import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Opens `count` loopback connections that never send a byte and returns how
/// many seconds after opening each was closed by the server (nil: still open at `limit`).
func idleConnectionLifetimes(port: Int, count: Int, limit: TimeInterval, from source: String? = nil,
                             whileOpen: () throws -> Void = {}) throws -> [TimeInterval?] {
    var fds: [Int32] = []
    defer { for fd in fds { close(fd) } }
    let start = Date()
    for _ in 0..<count {
        fds.append(try connectLoopback(port: port, from: source))
    }
    try whileOpen()
    var closedAt = [TimeInterval?](repeating: nil, count: count)
    var open = count
    var scratch = [UInt8](repeating: 0, count: 256)
    while open > 0 && Date().timeIntervalSince(start) < limit {
        var pollfds = fds.enumerated().map { index, fd in
            pollfd(fd: closedAt[index] == nil ? fd : -1, events: Int16(POLLIN), revents: 0)
        }
        _ = poll(&pollfds, nfds_t(pollfds.count), 200)
        for (index, entry) in pollfds.enumerated() where entry.fd >= 0 && entry.revents != 0 {
            // Readable with nothing to read (EOF/reset), or a close after an error reply.
            let n = scratch.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 {
                closedAt[index] = Date().timeIntervalSince(start)
                open -= 1
            }
        }
    }
    return closedAt
}

extension EndToEnd {
@Suite struct SlowlorisTests {
    /// Idle and half-open connections are bounded in number (--max-pending,
    /// 256 by default: the rest are refused at once) and in time (10 s each to
    /// finish the handshake), on both servers; the agent's established links
    /// are untouched and it streams afterwards.
    @Test func idleConnectionsAreBoundedInNumberAndTimeOnBothServers() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        // All 280 come from one address here; the per-address cap has its own test below.
        try cluster.startServers(tls: true, streampointArguments: ["--max-pending-per-address", "256"])
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")

        for (name, port) in [("endpoint", cluster.endpointPort), ("streampoint", cluster.streampointPort)] {
            let lifetimes = try idleConnectionLifetimes(port: port, count: 280, limit: 20)
            let refusedAtOnce = lifetimes.filter { ($0 ?? 99) < 2 }.count
            let cutAtDeadline = lifetimes.filter { ($0 ?? 0) >= 8 && ($0 ?? 99) < 14 }.count
            #expect(lifetimes.allSatisfy { $0 != nil }, "\(name): some idle connections were never closed")
            #expect(refusedAtOnce >= 280 - 256, "\(name): only \(refusedAtOnce) refused beyond the cap")
            #expect(cutAtDeadline >= 200, "\(name): only \(cutAtDeadline) closed at the handshake deadline")
        }
        #expect(try countFrames(url, seconds: 3) >= 50, "\(cluster.allLogs)")
        // The agent's control links survived the flood: it authenticated once.
        #expect(cluster.endpoint.stderr.components(separatedBy: "agent \(cluster.agentID) authenticated").count - 1 == 1)
    }

    /// One address opening idle connections gets at most --max-pending-per-address
    /// (32 by default) of the streampoint's handshake slots; the rest are refused
    /// at once, so a camera from another address still registers at once, while
    /// the flood's connections are still open (without the cap the flood would
    /// hold all 256 slots for the 10 s handshake deadline).
    @Test func oneAddressFloodingTheStreampointCannotLockOthersOut() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)
        var registeredAfter: TimeInterval?
        let lifetimes = try idleConnectionLifetimes(port: cluster.streampointPort, count: 300, limit: 20, from: "127.0.0.2") {
            let started = Date()
            try cluster.startAgent()
            _ = try cluster.viewerURL(target: "rtsp", timeout: 8)
            registeredAfter = Date().timeIntervalSince(started)
        }
        // The lifetimes are read only after the agent registered (well before the
        // 10 s deadline), so "refused at once" here means closed before that deadline.
        let refusedAtOnce = lifetimes.filter { ($0 ?? 99) < 8 }.count
        let heldToDeadline = lifetimes.filter { ($0 ?? 0) >= 8 }.count
        print("per-address flood: \(refusedAtOnce) of 300 refused at once, \(heldToDeadline) held to the deadline; "
            + "agent registered after \(String(format: "%.2f", registeredAfter ?? -1)) s")
        #expect(registeredAfter != nil && registeredAfter! < 8, "\(cluster.allLogs)")
        #expect(refusedAtOnce >= 300 - 32, "only \(refusedAtOnce) refused")
        #expect(heldToDeadline <= 32)
        #expect(cluster.streampoint.stderr.contains("connections mid-handshake from 127.0.0.2 (--max-pending-per-address)"))
    }
}
}
