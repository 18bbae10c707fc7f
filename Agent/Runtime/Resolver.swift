import CCamShim
import CamCore

/// Runs the core's DNSLookups inside the poll loop: reads resolv.conf and the
/// hosts file, owns one connected UDP socket per (query, server), and turns
/// datagrams and deadlines into results. Nothing here blocks, so a name server
/// that never answers costs one timer, not a frozen agent (docs/RESOLVER.md).
struct Resolver {
    struct Running {
        var lookup: DNSLookup
        /// The socket of slot query * servers + server, or -1 before its first datagram.
        var fds: [Int32]
        /// Questions asked again over TCP after a truncated answer.
        var exchanges: [TCPExchange] = []
    }

    /// One length-prefixed query and its answer on a TCP connection to a name server.
    struct TCPExchange {
        var slot: Int
        var fd: Int32
        var connected = false
        var outbound: [UInt8]
        var inbound: [UInt8] = []
    }

    /// Where a ready socket belongs, for the poll loop.
    struct Slot {
        var id: LinkID
        var index: Int
        var tcp = false
    }

    /// The whole lookup's limit: leaves the core's 10 s connect deadline room
    /// for TCP, TLS and the upgrade, or for the known address after a failure.
    static let limitMs: Int64 = 6000
    static let datagramBytes = 1232  // the EDNS-era safe UDP size; plain DNS answers are at most 512

    let resolvConfPath: String
    let hostsPath: String
    let logger: Logger
    private(set) var running: [LinkID: Running] = [:]
    private var datagram = [UInt8](repeating: 0, count: Resolver.datagramBytes)

    init(resolvConfPath: String, hostsPath: String, logger: Logger) {
        self.resolvConfPath = resolvConfPath
        self.hostsPath = hostsPath
        self.logger = logger
    }

    /// What the hosts file lists for `host` (re-read each time, as libc does, so edits apply at once).
    func hostsAddresses(_ host: String) -> [IPAddress] {
        guard let text = readFile(hostsPath, cap: 16 * 1024) else { return [] }
        return HostsFile.addresses(for: Array(host.utf8), in: text)
    }

    /// Starts resolving `host` for `id`; a result now (a name DNS cannot carry), or nil while it runs.
    mutating func start(_ id: LinkID, host: String, now: Int64) -> DNSLookup.Result? {
        cancel(id)
        // A missing resolv.conf means "ask 127.0.0.1", as in libc.
        let settings = ResolvConf.parse(readFile(resolvConfPath, cap: 4096) ?? [])
        var entropy = SystemEntropy()
        let random = entropy.bytes(2 * DNSLookup.idsNeeded(settings))
        var ids: [UInt16] = []
        for index in stride(from: 0, to: random.count, by: 2) { ids.append(UInt16(random[index]) << 8 | UInt16(random[index + 1])) }
        var lookup = DNSLookup(name: Array(host.utf8), settings: settings, ids: ids, limitMs: Resolver.limitMs, now: now)
        let actions = lookup.start(now: now)
        running[id] = Running(lookup: lookup, fds: [Int32](repeating: -1, count: ids.count))
        return apply(id, actions, now: now)
    }

    mutating func cancel(_ id: LinkID) {
        guard let entry = running.removeValue(forKey: id) else { return }
        for fd in entry.fds where fd >= 0 { _ = cs_close(fd) }
        for exchange in entry.exchanges { _ = cs_close(exchange.fd) }
    }

    var nextDeadline: Int64? {
        var earliest: Int64?
        for (_, entry) in running {
            if let deadline = entry.lookup.nextDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        }
        return earliest
    }

    func pollEntries(slots: inout [Slot], fds: inout [Int32], events: inout [Int32]) {
        for (id, entry) in running {
            for (index, fd) in entry.fds.enumerated() where fd >= 0 {
                slots.append(Slot(id: id, index: index))
                fds.append(fd)
                events.append(Int32(CS_POLL_IN))
            }
            for exchange in entry.exchanges {
                slots.append(Slot(id: id, index: exchange.slot, tcp: true))
                fds.append(exchange.fd)
                events.append(Int32(!exchange.connected || !exchange.outbound.isEmpty ? CS_POLL_OUT : CS_POLL_IN))
            }
        }
    }

    /// Lookups that ended at this time.
    mutating func tick(now: Int64) -> [(LinkID, DNSLookup.Result)] {
        var due: [LinkID] = []
        for (id, entry) in running {
            if let deadline = entry.lookup.nextDeadline, deadline <= now { due.append(id) }
        }
        var results: [(LinkID, DNSLookup.Result)] = []
        for id in due {
            guard var entry = running[id] else { continue }
            let actions = entry.lookup.tick(now: now)
            running[id] = entry
            if let result = apply(id, actions, now: now) { results.append((id, result)) }
        }
        return results
    }

    /// Reads what a socket holds (bounded, so a flood cannot hold the loop); the result if the lookup ended.
    mutating func ready(_ slot: Slot, now: Int64) -> DNSLookup.Result? {
        if slot.tcp { return continueExchange(slot, now: now) }
        for _ in 0..<8 {
            guard let entry = running[slot.id], entry.fds[slot.index] >= 0 else { return nil }
            let servers = entry.lookup.settings.nameservers.count
            let query = slot.index / servers, server = slot.index % servers
            var record = [UInt8](repeating: 0, count: Int(CS_ADDR_RECORD))
            var port: Int32 = 0
            let fd = entry.fds[slot.index]
            let n = datagram.withUnsafeMutableBufferPointer { dp in
                record.withUnsafeMutableBufferPointer { rp in cs_recv_from(fd, dp.baseAddress, dp.count, rp.baseAddress, &port) }
            }
            if n == CS_EAGAIN_RESULT_VALUE { return nil }
            var lookup = entry.lookup
            let actions: [DNSLookup.Action]
            if n < 0 {
                // An ICMP error (port unreachable) on a connected UDP socket: that server is not there.
                _ = cs_close(fd)
                running[slot.id]?.fds[slot.index] = -1
                actions = lookup.socketFailed(query: query, server: server, errorText(n), now: now)
            } else {
                let source = address(fromRecord: record).map { Nameserver(address: $0, port: UInt16(truncatingIfNeeded: port)) }
                actions = lookup.received(query: query, server: server, from: source, packet: Array(datagram[0..<n]), now: now)
            }
            running[slot.id]?.lookup = lookup
            if let result = apply(slot.id, actions, now: now) { return result }
            if n < 0 { return nil }
        }
        return nil
    }

    /// Executes a lookup's actions; the result (sockets closed) once it finished.
    private mutating func apply(_ id: LinkID, _ actions: [DNSLookup.Action], now: Int64) -> DNSLookup.Result? {
        var queue = actions
        while !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case .send(let query, let server, let packet):
                guard var entry = running[id] else { return nil }
                let slot = query * entry.lookup.settings.nameservers.count + server
                var rc: Int = 0
                if entry.fds[slot] < 0 {
                    let nameserver = entry.lookup.settings.nameservers[server]
                    var bytes = nameserver.address.bytes
                    let fd = bytes.withUnsafeMutableBufferPointer {
                        cs_udp_connect(nameserver.address.isV6 ? 6 : 4, $0.baseAddress, Int32(nameserver.port))
                    }
                    if fd >= 0 { entry.fds[slot] = fd } else { rc = Int(fd) }
                }
                if rc == 0 {
                    let fd = entry.fds[slot]
                    let n = packet.withUnsafeBufferPointer { cs_write(fd, $0.baseAddress, $0.count) }
                    if n < 0 { rc = n }
                }
                if rc < 0 {
                    queue += entry.lookup.socketFailed(query: query, server: server, errorText(rc), now: now)
                }
                running[id] = entry
            case .sendTCP(let query, let server, let packet):
                guard var entry = running[id] else { return nil }
                let slot = query * entry.lookup.settings.nameservers.count + server
                let nameserver = entry.lookup.settings.nameservers[server]
                var bytes = nameserver.address.bytes
                let fd = bytes.withUnsafeMutableBufferPointer {
                    cs_tcp_connect(nameserver.address.isV6 ? 6 : 4, $0.baseAddress, Int32(nameserver.port))
                }
                if fd >= 0 {
                    let length: [UInt8] = [UInt8(packet.count >> 8), UInt8(packet.count & 0xFF)]
                    entry.exchanges.append(TCPExchange(slot: slot, fd: fd, outbound: length + packet))
                } else {
                    queue += entry.lookup.socketFailed(query: query, server: server, errorText(Int(fd)), now: now)
                }
                running[id] = entry
            case .ignored(let why):
                logger.log(.debug, "\(id.name): DNS datagram ignored: \(why)")
            case .finished(let result):
                cancel(id)
                return result
            }
        }
        return nil
    }

    /// Connects, writes the query, reads the answer; hands it to the lookup once whole.
    private mutating func continueExchange(_ slot: Slot, now: Int64) -> DNSLookup.Result? {
        guard var entry = running[slot.id], let at = entry.exchanges.firstIndex(where: { $0.slot == slot.index }) else { return nil }
        var exchange = entry.exchanges[at]
        let servers = entry.lookup.settings.nameservers.count
        let query = slot.index / servers, server = slot.index % servers
        var problem: Int?
        var answer: [UInt8]?
        if !exchange.connected {
            let rc = cs_connect_result(exchange.fd)
            if rc != 0 { problem = Int(rc) } else { exchange.connected = true }
        }
        if problem == nil && !exchange.outbound.isEmpty {
            let fd = exchange.fd
            let n = exchange.outbound.withUnsafeBufferPointer { cs_write(fd, $0.baseAddress, $0.count) }
            if n > 0 { exchange.outbound.removeFirst(n) } else if n != CS_EAGAIN_RESULT_VALUE { problem = n }
        }
        if problem == nil && exchange.outbound.isEmpty {
            let fd = exchange.fd
            let n = datagram.withUnsafeMutableBufferPointer { cs_read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                exchange.inbound += datagram[0..<n]
                if exchange.inbound.count >= 2 {
                    let length = Int(exchange.inbound[0]) << 8 | Int(exchange.inbound[1])
                    if exchange.inbound.count >= 2 + length { answer = Array(exchange.inbound[2..<(2 + length)]) }
                }
            } else if n == 0 {
                problem = -104  // ECONNRESET: closed before a whole answer
            } else if n != CS_EAGAIN_RESULT_VALUE {
                problem = n
            }
        }
        guard problem != nil || answer != nil else {
            entry.exchanges[at] = exchange
            running[slot.id] = entry
            return nil
        }
        _ = cs_close(exchange.fd)
        entry.exchanges.remove(at: at)
        let actions: [DNSLookup.Action]
        if let answer {
            actions = entry.lookup.received(query: query, server: server, from: nil, packet: answer, overTCP: true, now: now)
        } else {
            actions = entry.lookup.socketFailed(query: query, server: server, "over TCP: " + errorText(problem!), now: now)
        }
        running[slot.id] = entry
        return apply(slot.id, actions, now: now)
    }

    private func readFile(_ path: String, cap: Int) -> [UInt8]? {
        var name = Array(path.utf8)
        var buffer = [UInt8](repeating: 0, count: cap)
        let n = name.withUnsafeMutableBufferPointer { np in
            buffer.withUnsafeMutableBufferPointer { bp in cs_read_file(np.baseAddress, np.count, bp.baseAddress, bp.count) }
        }
        guard n >= 0 else { return nil }
        return Array(buffer[0..<n])
    }
}

/// The shim's 20-byte address record (family, 3 zero bytes, 16 address bytes).
func addressRecord(_ address: IPAddress) -> [UInt8] {
    var record: [UInt8] = [address.isV6 ? 6 : 4, 0, 0, 0] + address.bytes
    while record.count < Int(CS_ADDR_RECORD) { record.append(0) }
    return record
}

func address(fromRecord record: [UInt8]) -> IPAddress? {
    switch record.first {
    case 4: return IPAddress(bytes: Array(record[4..<8]))
    case 6: return IPAddress(bytes: Array(record[4..<20]))
    default: return nil
    }
}
