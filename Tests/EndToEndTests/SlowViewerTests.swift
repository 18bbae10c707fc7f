import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The byte stream PatternSource sends on every connection: a pseudo-random
/// block repeated with a prime period, so a dropped, repeated or reordered chunk
/// of any ordinary size shows as a mismatch.
enum TunnelPattern {
    static let period = 65_521
    /// Two periods back to back: any window of `period` bytes is one slice.
    static let doubled: [UInt8] = {
        var state: UInt32 = 0x2545_F491
        var block = [UInt8](repeating: 0, count: period)
        for index in 0..<period {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            block[index] = UInt8(truncatingIfNeeded: state)
        }
        return block + block
    }()

    /// Whether `bytes` are the pattern from stream position `position` on.
    static func matches(_ bytes: [UInt8], at position: Int) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let start = (position + offset) % period
            let length = min(bytes.count - offset, period)
            let same = bytes.withUnsafeBytes { received in
                doubled.withUnsafeBytes { expected in
                    memcmp(received.baseAddress! + offset, expected.baseAddress! + start, length) == 0
                }
            }
            guard same else { return false }
            offset += length
        }
        return true
    }
}

/// A loopback TCP server that sends TunnelPattern to every connection as fast
/// as the connection takes it: the agent's fast local service.
final class PatternSource {
    let port: Int
    private let server: RawServer
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Int32] = []
    private let pumps = DispatchGroup()

    init() throws {
        server = try RawServer()
        port = server.port
        pumps.enter()
        Thread.detachNewThread { [self] in
            defer { pumps.leave() }
            while !isStopped {
                guard let fd = server.accept(timeout: 1) else { continue }
                lock.lock()
                connections.append(fd)
                lock.unlock()
                pumps.enter()
                Thread.detachNewThread { [self] in
                    defer { pumps.leave() }
                    pump(fd)
                }
            }
        }
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func pump(_ fd: Int32) {
        var offset = 0
        while !isStopped {
            let sent = TunnelPattern.doubled.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, TunnelPattern.period, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset = (offset + sent) % TunnelPattern.period
        }
    }

    /// Ends every connection (a pump blocked in send returns on shutdown) and waits for the threads.
    func stop() {
        lock.lock()
        stopped = true
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        lock.unlock()
        _ = pumps.wait(timeout: .now() + 10)
        lock.lock()
        for fd in connections { close(fd) }
        connections = []
        lock.unlock()
    }
}

/// A viewer that reads `bytesPerTick` every `tick` seconds (10 KB/s by default)
/// on its own thread and checks every byte against TunnelPattern.
final class SlowViewer {
    let fd: Int32
    private let lock = NSLock()
    private var stopRequested = false
    private(set) var received = 0
    private(set) var corruptAt: Int?
    private(set) var closedEarly = false
    private(set) var longestWait: TimeInterval = 0
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int, bytesPerTick: Int = 1_000, tick: TimeInterval = 0.1) throws {
        fd = try connectLoopback(port: port)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            defer { finished.signal() }
            var buffer = [UInt8](repeating: 0, count: bytesPerTick)
            var nextTick = Date()
            while !shouldStop {
                let started = Date()
                var chunk: [UInt8] = []
                while chunk.count < bytesPerTick {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, bytesPerTick - chunk.count, 0) }
                    guard n > 0 else {
                        recordClose()
                        return
                    }
                    chunk += buffer[0..<n]
                }
                guard record(chunk, waited: Date().timeIntervalSince(started)) else { return }
                nextTick = max(nextTick.addingTimeInterval(tick), Date())
                Thread.sleep(until: nextTick)
            }
        }
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    /// Counts and checks one tick's bytes; false once the stream is corrupt.
    private func record(_ chunk: [UInt8], waited: TimeInterval) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        longestWait = max(longestWait, waited)
        guard TunnelPattern.matches(chunk, at: received) else {
            corruptAt = received
            return false
        }
        received += chunk.count
        return true
    }

    private func recordClose() {
        lock.lock()
        closedEarly = true
        lock.unlock()
    }

    var snapshot: (received: Int, corruptAt: Int?, closedEarly: Bool, longestWait: TimeInterval) {
        lock.lock()
        defer { lock.unlock() }
        return (received, corruptAt, closedEarly, longestWait)
    }

    /// Stops reading (the connection stays open) and waits for the thread; safe to call twice.
    func stop() {
        lock.lock()
        let first = !stopRequested
        stopRequested = true
        lock.unlock()
        if first { _ = finished.wait(timeout: .now() + 15) }
    }

    deinit { close(fd) }
}

/// Samples a process's VmRSS every `interval` on its own thread; keeps the peak.
final class RSSSampler {
    private let lock = NSLock()
    private var running = true
    private var peakKiB = 0
    private var samples = 0
    private let finished = DispatchSemaphore(value: 0)

    init(pid: Int32, interval: TimeInterval = 0.05) {
        Thread.detachNewThread { [self] in
            defer { finished.signal() }
            while true {
                let rss = residentKiB(pid)
                lock.lock()
                let keepGoing = running
                if rss > 0 {
                    peakKiB = max(peakKiB, rss)
                    samples += 1
                }
                lock.unlock()
                guard keepGoing, rss > 0 else { return }
                Thread.sleep(forTimeInterval: interval)
            }
        }
    }

    /// Stops sampling; returns the peak and how many samples it saw.
    func stop() -> (peakKiB: Int, samples: Int) {
        lock.lock()
        running = false
        lock.unlock()
        _ = finished.wait(timeout: .now() + 5)
        lock.lock()
        defer { lock.unlock() }
        return (peakKiB, samples)
    }
}

extension EndToEnd {
@Suite struct SlowViewerTests {
    /// DESIGN.md §5: agent RSS with busy tunnels ≤ 2 MiB. Only the Embedded
    /// build (static, no Swift runtime library) is held to it; the host build
    /// maps the whole Swift runtime, so there only the growth is bounded.
    static let busyBudgetKiB = 2048
    static let hostGrowthBudgetKiB = 1024
    static let fastTransfer = 64 << 20

    /// One viewer reads at 10 KB/s while another tunnel through the same agent
    /// moves 64 MiB as fast as it can, over TLS links. The slow tunnel must stay
    /// open, slow and intact, the fast one must finish, and the agent must not
    /// buffer for the slow viewer: its RSS stays in budget throughout.
    @Test func slowViewerDoesNotStallFastTunnelOrGrowAgentMemory() throws {
        let cluster = try Cluster()
        let source = try PatternSource()
        defer { cluster.stop(); source.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)

        // The Embedded x86_64 agent when Scripts/test built it (the binary the budget is for).
        let embedded = crossAgentPath("CAMAGENT_CROSS_X86_64")
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: "target = source=127.0.0.1:\(source.port)"),
                                           binary: embedded, runner: embedded == nil ? nil : "")
        let url = try cluster.viewerURL(target: "source")  // "tcp://host:port/"
        let viewerPort = try port(fromAnnouncement: String(url.dropLast()))
        let pid = agent.process.processIdentifier
        let idleKiB = residentKiB(pid)
        let sampler = RSSSampler(pid: pid)

        // The slow viewer first, long enough for every buffer on its path to fill.
        let slow = try SlowViewer(port: viewerPort)
        defer { slow.stop() }
        Thread.sleep(forTimeInterval: 3)
        let slowBefore = slow.snapshot.received

        // Then the fast tunnel, through the same agent, while the slow one crawls on.
        let fastStart = Date()
        let fast = try RawClient(port: viewerPort)
        var fastReceived = 0
        var fastIntact = true
        while fastReceived < Self.fastTransfer && Date().timeIntervalSince(fastStart) < 120 {
            let chunk = fast.read(atLeast: 1)
            guard !chunk.isEmpty else { break }
            let wanted = Array(chunk.prefix(Self.fastTransfer - fastReceived))
            if fastIntact && !TunnelPattern.matches(wanted, at: fastReceived) { fastIntact = false }
            fastReceived += wanted.count
        }
        let fastSeconds = Date().timeIntervalSince(fastStart)
        Thread.sleep(forTimeInterval: 1)
        slow.stop()  // the reading thread ends; the connection stays open
        let slowState = slow.snapshot

        let logs = { cluster.allLogs }
        #expect(fastReceived == Self.fastTransfer,
                "fast tunnel moved \(fastReceived) of \(Self.fastTransfer) bytes in \(Int(fastSeconds)) s\n\(logs())")
        #expect(fastIntact, "fast tunnel bytes differ from what the source sent")

        // The slow tunnel: intact, never closed, and still moving at its own pace
        // (10 KB/s for the whole fast transfer; at least half of that, generously).
        #expect(slowState.corruptAt == nil, "slow tunnel bytes differ from the source at offset \(slowState.corruptAt ?? -1)")
        #expect(!slowState.closedEarly, "slow tunnel closed after \(slowState.received) bytes\n\(logs())")
        let slowDuring = slowState.received - slowBefore
        #expect(Double(slowDuring) >= 5_000 * fastSeconds,
                "slow viewer got only \(slowDuring) bytes in the \(Int(fastSeconds)) s of the fast transfer")
        #expect(slowState.longestWait < 5, "slow viewer waited \(slowState.longestWait) s for one tick's bytes")
        // Still open and still the same stream after the fast transfer.
        var more = [UInt8](repeating: 0, count: 1_000)
        let n = more.withUnsafeMutableBytes { recv(slow.fd, $0.baseAddress, $0.count, Int32(MSG_WAITALL)) }
        #expect(n == 1_000 && TunnelPattern.matches(Array(more[0..<max(n, 0)]), at: slowState.received),
                "slow tunnel did not carry on after the fast transfer (read \(n))")

        let (peakKiB, samples) = sampler.stop()
        #expect(samples >= 20, "RSS sampled only \(samples) times")
        #expect(agent.isRunning, "agent exited\n\(logs())")
        if embedded != nil {
            #expect(peakKiB <= Self.busyBudgetKiB,
                    "Embedded agent RSS peaked at \(peakKiB) KiB with a slow and a fast tunnel (budget \(Self.busyBudgetKiB) KiB)")
        } else {
            #expect(peakKiB - idleKiB <= Self.hostGrowthBudgetKiB,
                    "host agent RSS grew from \(idleKiB) KiB idle to \(peakKiB) KiB with a slow and a fast tunnel")
        }
    }
}
}
