import CCamShim
import CamCore

/// Runs the core's DNSLookups inside the poll loop: reads resolv.conf and the
/// hosts file, owns one connected UDP socket per (query, server), and turns
/// datagrams and deadlines into results. Nothing here blocks, so a name server
/// that never answers costs one timer, not a frozen agent (docs/RESOLVER.md).
struct Resolver {
    /// A lookup that ended, with the dial it was for.
    struct Finished {
        var id: LinkID
        var address: ServerAddress
        /// The known address still to fall back on (a CS_ADDR_RECORD).
        var known: [UInt8]?
        var result: DNSLookup.Result
    }

    struct Running {
        var id: LinkID
        var address: ServerAddress
        var known: [UInt8]?
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


    let resolvConfPath: String
    let hostsPath: String
    let logger: Logger
    /// A handful at most (one per link being dialled): an array, not a Dictionary, for code size.
    private(set) var running: [Running] = []
    private var datagram = [UInt8](repeating: 0, count: Tunables.dnsDatagramBytes)

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

    /// Starts resolving `address.host` for `id`; a result now (a name DNS cannot carry), or nil while it runs.
    mutating func start(_ id: LinkID, _ address: ServerAddress, known: [UInt8]?, now: Int64) -> Finished? {
        cancel(id)
        // A missing resolv.conf means "ask 127.0.0.1", as in libc.
        let settings = ResolvConf.parse(readFile(resolvConfPath, cap: 8192) ?? [])
        var entropy = SystemEntropy()
        let random = entropy.bytes(2 * DNSLookup.idsNeeded(settings))
        var ids: [UInt16] = []
        var index = 0
        while index + 1 < random.count {
            ids.append(UInt16(random[index]) << 8 | UInt16(random[index + 1]))
            index += 2
        }
        var lookup = DNSLookup(name: Array(address.host.utf8), settings: settings, ids: ids, limitMs: Tunables.dnsLookupLimitMs, now: now)
        let actions = lookup.start(now: now)
        running.append(Running(id: id, address: address, known: known, lookup: lookup, fds: [Int32](repeating: -1, count: ids.count)))
        return apply(id, actions, now: now)
    }

    mutating func cancel(_ id: LinkID) {
        guard let at = position(id) else { return }
        let entry = running.remove(at: at)
        for fd in entry.fds where fd >= 0 { _ = cs_close(fd) }
        for exchange in entry.exchanges { _ = cs_close(exchange.fd) }
    }

    private func position(_ id: LinkID) -> Int? {
        for index in 0..<running.count where running[index].id == id { return index }
        return nil
    }

    var nextDeadline: Int64? {
        var earliest: Int64?
        for entry in running {
            if let deadline = entry.lookup.nextDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        }
        return earliest
    }

    func pollEntries(slots: inout [Slot], fds: inout [Int32], events: inout [Int32]) {
        for entry in running {
            for index in 0..<entry.fds.count where entry.fds[index] >= 0 {
                slots.append(Slot(id: entry.id, index: index))
                fds.append(entry.fds[index])
                events.append(Int32(CS_POLL_IN))
            }
            for exchange in entry.exchanges {
                slots.append(Slot(id: entry.id, index: exchange.slot, tcp: true))
                fds.append(exchange.fd)
                events.append(Int32(!exchange.connected || !exchange.outbound.isEmpty ? CS_POLL_OUT : CS_POLL_IN))
            }
        }
    }

    /// Runs the lookups whose deadline passed; returns one that ended (call again until nil).
    mutating func tick(now: Int64) -> Finished? {
        var index = 0
        while index < running.count {
            if let deadline = running[index].lookup.nextDeadline, deadline <= now {
                let id = running[index].id
                let actions = running[index].lookup.tick(now: now)
                if let finished = apply(id, actions, now: now) { return finished }
            }
            index += 1
        }
        return nil
    }

    /// Reads what a socket holds (bounded, so a flood cannot hold the loop); the lookup if it ended.
    mutating func ready(_ slot: Slot, now: Int64) -> Finished? {
        if slot.tcp { return continueExchange(slot, now: now) }
        for _ in 0..<8 {
            guard let at = position(slot.id), running[at].fds[slot.index] >= 0 else { return nil }
            let servers = running[at].lookup.settings.nameservers.count
            let query = slot.index / servers, server = slot.index % servers
            var record = [UInt8](repeating: 0, count: Int(CS_ADDR_RECORD))
            var port: Int32 = 0
            let fd = running[at].fds[slot.index]
            let n = datagram.withUnsafeMutableBufferPointer { dp in
                record.withUnsafeMutableBufferPointer { rp in cs_recv_from(fd, dp.baseAddress, dp.count, rp.baseAddress, &port) }
            }
            if n == CS_EAGAIN_RESULT_VALUE { return nil }
            let actions: [DNSLookup.Action]
            if n < 0 {
                // An ICMP error (port unreachable) on a connected UDP socket: that server is not there.
                _ = cs_close(fd)
                running[at].fds[slot.index] = -1
                actions = running[at].lookup.socketFailed(query: query, server: server, errorText(n), now: now)
            } else {
                let source = address(fromRecord: record).map { Nameserver(address: $0, port: UInt16(truncatingIfNeeded: port)) }
                actions = running[at].lookup.received(query: query, server: server, from: source, packet: Array(datagram[0..<n]), now: now)
            }
            if let finished = apply(slot.id, actions, now: now) { return finished }
            if n < 0 { return nil }
        }
        return nil
    }

    /// Executes a lookup's actions; the lookup (sockets closed) once it finished.
    private mutating func apply(_ id: LinkID, _ actions: [DNSLookup.Action], now: Int64) -> Finished? {
        var queue = actions
        while !queue.isEmpty {
            guard let at = position(id) else { return nil }
            let action = queue.removeFirst()
            switch action {
            case .send(let query, let server, let packet), .sendTCP(let query, let server, let packet):
                let nameserver = running[at].lookup.settings.nameservers[server]
                let slot = query * running[at].lookup.settings.nameservers.count + server
                let family: Int32 = nameserver.address.isV6 ? 6 : 4
                var bytes = nameserver.address.bytes
                var rc = 0
                if case .sendTCP = action {
                    let fd = bytes.withUnsafeMutableBufferPointer { cs_tcp_connect(family, $0.baseAddress, Int32(nameserver.port)) }
                    if fd >= 0 {
                        let length: [UInt8] = [UInt8(packet.count >> 8), UInt8(packet.count & 0xFF)]
                        running[at].exchanges.append(TCPExchange(slot: slot, fd: fd, outbound: length + packet))
                    } else {
                        rc = Int(fd)
                    }
                } else {
                    if running[at].fds[slot] < 0 {
                        let fd = bytes.withUnsafeMutableBufferPointer { cs_udp_connect(family, $0.baseAddress, Int32(nameserver.port)) }
                        if fd >= 0 { running[at].fds[slot] = fd } else { rc = Int(fd) }
                    }
                    if rc == 0 {
                        let fd = running[at].fds[slot]
                        let n = packet.withUnsafeBufferPointer { cs_write(fd, $0.baseAddress, $0.count) }
                        if n < 0 { rc = n }
                    }
                }
                if rc < 0 { queue += running[at].lookup.socketFailed(query: query, server: server, errorText(rc), now: now) }
            case .ignored(let why):
                logger.log(.debug, "\(id.name): DNS datagram ignored: \(why)")
            case .finished(let result):
                let entry = running[at]
                cancel(id)
                return Finished(id: id, address: entry.address, known: entry.known, result: result)
            }
        }
        return nil
    }

    /// Connects, writes the query, reads the answer; hands it to the lookup once whole.
    private mutating func continueExchange(_ slot: Slot, now: Int64) -> Finished? {
        guard let at = position(slot.id) else { return nil }
        var which: Int?
        for index in 0..<running[at].exchanges.count where running[at].exchanges[index].slot == slot.index { which = index }
        guard let which else { return nil }
        var exchange = running[at].exchanges[which]
        let servers = running[at].lookup.settings.nameservers.count
        let query = slot.index / servers, server = slot.index % servers
        let fd = exchange.fd
        var problem = 0
        var answer: [UInt8]?
        if !exchange.connected {
            problem = Int(cs_connect_result(fd))
            exchange.connected = problem == 0
        }
        if problem == 0 && !exchange.outbound.isEmpty {
            let n = exchange.outbound.withUnsafeBufferPointer { cs_write(fd, $0.baseAddress, $0.count) }
            if n > 0 { exchange.outbound.removeFirst(n) } else if n != CS_EAGAIN_RESULT_VALUE { problem = n }
        }
        if problem == 0 && exchange.outbound.isEmpty {
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
        guard problem != 0 || answer != nil else {
            running[at].exchanges[which] = exchange
            return nil
        }
        _ = cs_close(fd)
        running[at].exchanges.remove(at: which)
        let actions: [DNSLookup.Action]
        if let answer {
            actions = running[at].lookup.received(query: query, server: server, from: nil, packet: answer, overTCP: true, now: now)
        } else {
            actions = running[at].lookup.socketFailed(query: query, server: server, "over TCP: " + errorText(problem), now: now)
        }
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
