import CCamShim
import CamCore
import CamProtocol

/// A socket the core drives: a control link, or a tunnel socket before splicing.
struct LinkSocket {
    enum Phase: Equatable {
        case connecting
        /// TLS handshake in progress; `wantsWrite` says which way it waits.
        case handshaking(wantsWrite: Bool)
        case ready
    }

    var transport: Transport
    var phase = Phase.connecting
    /// The name the server certificate must carry, for TLS links.
    var tlsHost: String?
    var outbound: [UInt8] = []
    /// Addresses (CS_ADDR_RECORD each) still to try if this connect fails.
    var untried: [[UInt8]] = []
    /// With addresses left to try, a connect that hangs (a dropped SYN) moves
    /// on to the next one at this time instead of using up the whole dial.
    var candidateDeadline: Int64?
    var port: UInt16 = 0
    var addresses: SocketAddresses?
    /// Ask DNS for this name once the candidates run out (they were the known
    /// address, tried first without waiting for DNS).
    var resolveAfter: ServerAddress?

    var fd: Int32 { transport.fd }
}

/// The single-threaded poll(2) loop. It owns every socket, executes the core's
/// actions, reports I/O back as events, and sleeps until the next I/O or the
/// core's next deadline: no busy waiting, no threads.
public struct AgentRuntime {

    private var core: AgentCore<SystemEntropy>
    private let logger: Logger
    private var sockets: [LinkID: LinkSocket] = [:]
    private var splices: [UInt32: Splice] = [:]
    private var pending: [AgentAction] = []
    private var readBuffer = [UInt8](repeating: 0, count: Tunables.readChunkBytes)
    private var resolver: Resolver

    public init(config: AgentConfig, state: AgentState) {
        core = AgentCore(config: config, state: state, entropy: SystemEntropy())
        logger = Logger(minimum: config.logLevel)
        stateFile = config.stateFile
        resolver = Resolver(resolvConfPath: config.resolvConfFile, hostsPath: config.hostsFile, logger: logger)
    }

    private let stateFile: String?

    public mutating func run() {
        cs_install_signal_handlers()
        pending += core.start(now: cs_monotonic_ms(), uptimeMs: cs_uptime_ms())
        perform()
        var ids: [LinkID] = []
        var fds: [Int32] = []
        var events: [Int32] = []
        var revents: [Int32] = []
        while cs_termination_requested() == 0 {
            let now = cs_monotonic_ms()
            if let deadline = core.nextDeadline, deadline <= now {
                pending += core.tick(now: now)
                perform()
                continue
            }
            if let deadline = resolver.nextDeadline, deadline <= now {
                while let finished = resolver.tick(now: now) { resolved(finished) }
                perform()
                continue
            }
            moveOnFromHangingConnects(now: now)
            ids.removeAll(keepingCapacity: true)
            fds.removeAll(keepingCapacity: true)
            events.removeAll(keepingCapacity: true)
            for (id, socket) in sockets {
                ids.append(id)
                fds.append(socket.fd)
                events.append(interest(id, socket))
            }
            var spliceIDs: [UInt32] = []
            for (id, splice) in splices {
                spliceIDs.append(id)
                // A side with nothing to do is left out, so a hung-up socket
                // whose queue is full cannot make poll return at once forever.
                let targetEvents = splice.targetEvents
                let dataEvents = splice.dataEvents
                fds.append(targetEvents == 0 ? -1 : splice.target.fd)
                events.append(targetEvents)
                fds.append(dataEvents == 0 ? -1 : splice.data.fd)
                events.append(dataEvents)
            }
            let resolverStart = fds.count
            var resolverSlots: [Resolver.Slot] = []
            resolver.pollEntries(slots: &resolverSlots, fds: &fds, events: &events)
            revents = [Int32](repeating: 0, count: fds.count)
            // No cap: an idle agent sleeps until its next deadline (a heartbeat,
            // a retry) or I/O. Signals interrupt the wait (cs_poll).
            var timeout: Int64 = -1
            func wake(by deadline: Int64?) {
                guard let deadline else { return }
                let wait = max(0, deadline - now)
                if timeout < 0 || wait < timeout { timeout = wait }
            }
            wake(by: core.nextDeadline)
            wake(by: resolver.nextDeadline)
            for (_, socket) in sockets { wake(by: socket.candidateDeadline) }
            // Decrypted bytes already inside a TLS session never wake poll(2).
            for (_, splice) in splices where splice.dataReadableWithoutPoll { timeout = 0 }
            let ready = fds.withUnsafeBufferPointer { fdp in
                events.withUnsafeBufferPointer { ep in
                    revents.withUnsafeMutableBufferPointer { rp in
                        cs_poll(fdp.baseAddress, ep.baseAddress, rp.baseAddress, Int32(fdp.count), Int32(timeout))
                    }
                }
            }
            if ready < 0 {
                logger.log(.error, "poll failed: \(errorText(Int(ready)))")
                continue
            }
            if ready == 0 && timeout != 0 { continue }
            for index in 0..<ids.count where revents[index] != 0 {
                handleSocketEvent(ids[index], fd: fds[index], revents: revents[index])
                perform()
            }
            for (n, id) in spliceIDs.enumerated() {
                let targetRevents = revents[ids.count + 2 * n]
                var dataRevents = revents[ids.count + 2 * n + 1]
                if splices[id]?.dataReadableWithoutPoll == true { dataRevents |= Int32(CS_POLL_IN) }
                guard targetRevents != 0 || dataRevents != 0 else { continue }
                handleSplice(id, targetRevents: targetRevents, dataRevents: dataRevents)
                perform()
            }
            for (n, slot) in resolverSlots.enumerated() where revents[resolverStart + n] != 0 {
                if let finished = resolver.ready(slot, now: cs_monotonic_ms()) { resolved(finished) }
                perform()
            }
        }
        logger.log(.info, "terminating on signal")
        for (_, socket) in sockets { socket.transport.close() }
        for (_, splice) in splices { splice.closeSockets() }
    }

    private func interest(_ id: LinkID, _ socket: LinkSocket) -> Int32 {
        switch socket.phase {
        case .connecting: return Int32(CS_POLL_OUT)
        case .handshaking(let wantsWrite): return Int32(wantsWrite ? CS_POLL_OUT : CS_POLL_IN)
        case .ready: break
        }
        var events: Int32 = 0
        // A tunnel's camera socket is not read until the splice starts: its bytes
        // wait in the kernel, which is the bound we want.
        if case .tunnelTarget = id {} else { events |= Int32(CS_POLL_IN) }
        if !socket.outbound.isEmpty { events |= Int32(CS_POLL_OUT) }
        return events
    }

    // MARK: - Events

    private mutating func handleSocketEvent(_ id: LinkID, fd: Int32, revents: Int32) {
        // An earlier event in this round may have closed or replaced the socket.
        guard var socket = sockets[id], socket.fd == fd else { return }
        let now = cs_monotonic_ms()
        switch socket.phase {
        case .connecting:
            let result = cs_connect_result(fd)
            if result != 0 {
                drop(id)
                if !socket.untried.isEmpty || socket.resolveAfter != nil {
                    logger.log(.debug, "\(id.name): \(errorText(Int(result))); trying the next address")
                    startConnect(id, candidates: socket.untried, port: socket.port, tlsHost: socket.tlsHost,
                                 thenResolve: socket.resolveAfter)
                    return
                }
                pending += core.connectFailed(id, reason: errorText(Int(result)), now: now)
                return
            }
            socket.untried = []
            socket.candidateDeadline = nil
            socket.resolveAfter = nil
            socket.addresses = socketAddresses(fd)
            guard let host = socket.tlsHost else {
                socket.phase = .ready
                sockets[id] = socket
                pending += core.connected(id, now: now, addresses: socket.addresses)
                return
            }
            var hostBytes = Array(host.utf8)
            let session = hostBytes.withUnsafeMutableBufferPointer { cs_tls_open(fd, $0.baseAddress, $0.count) }
            guard session >= 0 else {
                drop(id)
                pending += core.connectFailed(id, reason: "TLS setup failed: \(errorText(Int(session)))", now: now)
                return
            }
            socket.transport = Transport(fd: fd, session: session)
            socket.phase = .handshaking(wantsWrite: false)
            sockets[id] = socket
            continueHandshake(id)
            return
        case .handshaking:
            continueHandshake(id)
            return
        case .ready:
            break
        }
        if revents & Int32(CS_POLL_OUT) != 0 && !flush(id) { return }
        guard revents & Int32(CS_POLL_IN | CS_POLL_HUP | CS_POLL_ERR) != 0 else { return }
        if case .tunnelTarget = id {
            // Not reading yet; only a failure matters.
            if revents & Int32(CS_POLL_ERR | CS_POLL_HUP) != 0 {
                drop(id)
                pending += core.closed(id, reason: "connection lost", now: now)
            }
            return
        }
        // A TLS record can hold more than one read's worth: drain what the session holds.
        var rounds = 0
        repeat {
            let transport = socket.transport
            let n = readBuffer.withUnsafeMutableBufferPointer { transport.read($0.baseAddress!, $0.count) }
            if n > 0 {
                pending += core.received(id, bytes: Array(readBuffer[0..<n]), now: now)
            } else if n == 0 {
                drop(id)
                pending += core.closed(id, reason: "closed by peer", now: now)
                return
            } else if n != CS_EAGAIN_RESULT_VALUE {
                drop(id)
                pending += core.closed(id, reason: transport.errorText(n), now: now)
                return
            }
            rounds += 1
            // The core may have closed or replaced the socket while handling the bytes.
            guard let current = sockets[id], current.fd == fd else { return }
            socket = current
        } while socket.transport.hasPendingInput && rounds < 64
    }

    private mutating func continueHandshake(_ id: LinkID) {
        guard var socket = sockets[id] else { return }
        let rc = cs_tls_handshake(socket.transport.session)
        let now = cs_monotonic_ms()
        switch rc {
        case 0:
            socket.phase = .ready
            sockets[id] = socket
            logger.log(.info, "\(id.name): TLS established, \(socket.transport.sessionSummary)")
            pending += core.connected(id, now: now, addresses: socket.addresses)
        case CS_TLS_WANT_READ, CS_TLS_WANT_WRITE:
            socket.phase = .handshaking(wantsWrite: rc == CS_TLS_WANT_WRITE)
            sockets[id] = socket
        default:
            let reason = socket.transport.errorText(Int(rc))
            drop(id)
            pending += core.connectFailed(id, reason: reason, now: now)
        }
    }

    private mutating func handleSplice(_ id: UInt32, targetRevents: Int32, dataRevents: Int32) {
        // Taken out of the table while it runs: a copy left behind would make
        // every write to its queues copy them (copy-on-write) on every event.
        guard var splice = splices.removeValue(forKey: id) else { return }
        let outcome = splice.handle(targetRevents: targetRevents, dataRevents: dataRevents)
        switch outcome {
        case .running:
            splices[id] = splice
        case .finished(let reason):
            finish(id, splice, reason: reason)
        }
    }

    /// Writes what it can; false if the socket failed (and was reported).
    private mutating func flush(_ id: LinkID) -> Bool {
        guard var socket = sockets[id], socket.phase == .ready, !socket.outbound.isEmpty else { return true }
        let transport = socket.transport
        let n = socket.outbound.withUnsafeBufferPointer { transport.write($0.baseAddress!, $0.count) }
        if n > 0 {
            socket.outbound.removeFirst(n)
            sockets[id] = socket
        } else if n != CS_EAGAIN_RESULT_VALUE {
            drop(id)
            pending += core.closed(id, reason: transport.errorText(n), now: cs_monotonic_ms())
            return false
        }
        return true
    }

    private mutating func drop(_ id: LinkID) {
        if let socket = sockets.removeValue(forKey: id) { socket.transport.close() }
    }

    // MARK: - Actions

    /// Executes queued actions; executing one may queue more (a failed connect, say).
    private mutating func perform() {
        while !pending.isEmpty {
            let action = pending.removeFirst()
            execute(action)
        }
    }

    private mutating func execute(_ action: AgentAction) {
        switch action {
        case .log(let level, let text):
            logger.log(level, text)
        case .connect(let id, let address):
            connect(id, address)
        case .send(let id, let bytes):
            guard var socket = sockets[id] else { return }
            socket.outbound += bytes
            if socket.outbound.count > Tunables.controlSendQueueBytes {
                drop(id)
                pending += core.closed(id, reason: "peer is not reading (send buffer full)", now: cs_monotonic_ms())
                return
            }
            sockets[id] = socket
            _ = flush(id)
        case .close(let id):
            // What the core sent last (a COMMAND_RESULT before a disconnect) goes out if the socket takes it now.
            _ = flush(id)
            drop(id)
            stopResolving(id)
        case .closeTunnel(let tunnelID):
            closeTunnel(tunnelID)
        case .splice(let tunnelID, let toTarget):
            startSplice(tunnelID, toTarget: toTarget)
        case .storeState(let state):
            store(state)
        case .runCommand(let command):
            var bytes = Array(command.utf8)
            let pid = bytes.withUnsafeMutableBufferPointer { cs_spawn($0.baseAddress, $0.count) }
            if pid > 0 {
                logger.log(.info, "started \(command) (pid \(pid))")
            } else {
                logger.log(.error, "cannot run \(command): \(errorText(Int(pid)))")
            }
        }
    }

    /// A failed write is not fatal: the state stays in memory, and a unit
    /// that reboots without it activates again or uses its config's endpoints.
    private func store(_ state: AgentState) {
        guard let stateFile else { return }
        var path = Array(stateFile.utf8)
        var text = Array(StateFile.render(state).utf8)
        let rc = path.withUnsafeMutableBufferPointer { pp in
            text.withUnsafeMutableBufferPointer { tp in cs_write_file_atomic(pp.baseAddress, pp.count, tp.baseAddress, tp.count) }
        }
        if rc == 0 {
            logger.log(.info, (state.identity == nil ? "server list stored in " : "identity stored in ") + stateFile)
        } else {
            logger.log(.error, "cannot store state in \(stateFile): \(errorText(Int(rc))); kept in memory only")
        }
    }

    /// Up to four addresses from the hosts file or DNS and the address the
    /// server last answered on, in the order the core asked for: a dead
    /// resolver or a stale answer cannot strand the agent while the known
    /// address still works. DNS runs inside the poll loop (Resolver), so a
    /// name server that never answers delays only this dial.
    private mutating func connect(_ id: LinkID, _ address: ServerAddress) {
        drop(id)
        stopResolving(id)
        let tlsHost = address.tls ? address.host : nil
        if let literal = IPAddress(address.host) {
            startConnect(id, candidates: [addressRecord(literal)], port: address.port, tlsHost: tlsHost)
            return
        }
        let known = address.knownAddress.flatMap { IPAddress($0) }.map { addressRecord($0) }
        let fromHosts = resolver.hostsAddresses(address.host)
        if !fromHosts.isEmpty {
            let listed = fromHosts.map { addressRecord($0) }
            let knownList = known.map { [$0] } ?? []
            startConnect(id, candidates: unique(address.knownAddressFirst ? knownList + listed : listed + knownList),
                         port: address.port, tlsHost: tlsHost)
            return
        }
        if let known, address.knownAddressFirst {
            startConnect(id, candidates: [known], port: address.port, tlsHost: tlsHost, thenResolve: address)
            return
        }
        startResolving(id, address, known: known)
    }

    private mutating func startResolving(_ id: LinkID, _ address: ServerAddress, known: [UInt8]?) {
        if let finished = resolver.start(id, address, known: known, now: cs_monotonic_ms()) { resolved(finished) }
    }

    private mutating func stopResolving(_ id: LinkID) {
        resolver.cancel(id)
    }

    private mutating func resolved(_ finished: Resolver.Finished) {
        let id = finished.id, address = finished.address, known = finished.known
        let tlsHost = address.tls ? address.host : nil
        switch finished.result {
        case .addresses(let found):
            var candidates = found.map { addressRecord($0) }
            if let known { candidates.append(known) }
            startConnect(id, candidates: unique(candidates), port: address.port, tlsHost: tlsHost)
        case .failed(let why):
            let dnsError = "cannot resolve \(address.host): \(why)"
            guard let known else {
                pending += core.connectFailed(id, reason: dnsError, now: cs_monotonic_ms())
                return
            }
            logger.log(.warn, "\(id.name): \(dnsError); using the last known address")
            startConnect(id, candidates: [known], port: address.port, tlsHost: tlsHost)
        }
    }

    private func unique(_ records: [[UInt8]]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        for record in records where !result.contains(record) { result.append(record) }
        return result
    }

    private mutating func moveOnFromHangingConnects(now: Int64) {
        var hanging: [LinkID] = []
        for (id, socket) in sockets where socket.phase == .connecting {
            if let deadline = socket.candidateDeadline, now >= deadline { hanging.append(id) }
        }
        for id in hanging {
            guard let socket = sockets[id] else { continue }
            logger.log(.debug, "\(id.name): no answer within \(formatMillis(Tunables.candidateTimeoutMs)); trying the next address")
            drop(id)
            startConnect(id, candidates: socket.untried, port: socket.port, tlsHost: socket.tlsHost,
                         thenResolve: socket.resolveAfter)
        }
    }

    /// Connects to the first candidate that accepts a socket; the rest wait in
    /// `untried` for an asynchronous failure or `candidateDeadline`. With
    /// `thenResolve`, DNS is asked once every candidate has failed.
    private mutating func startConnect(_ id: LinkID, candidates: [[UInt8]], port: UInt16, tlsHost: String?,
                                       thenResolve: ServerAddress? = nil) {
        var remaining = candidates
        var lastError: Int32 = 0
        while !remaining.isEmpty {
            var record = remaining.removeFirst()
            let fd = record.withUnsafeMutableBufferPointer { rp in cs_tcp_connect(Int32(rp[0]), rp.baseAddress! + 4, Int32(port)) }
            if fd >= 0 {
                var socket = LinkSocket(transport: .plain(fd), tlsHost: tlsHost)
                socket.untried = remaining
                socket.port = port
                socket.resolveAfter = thenResolve
                if !remaining.isEmpty || thenResolve != nil {
                    socket.candidateDeadline = cs_monotonic_ms() + Tunables.candidateTimeoutMs
                }
                sockets[id] = socket
                return
            }
            lastError = fd
        }
        if let thenResolve {
            startResolving(id, thenResolve, known: nil)
            return
        }
        pending += core.connectFailed(id, reason: errorText(Int(lastError)), now: cs_monotonic_ms())
    }

    private func socketAddresses(_ fd: Int32) -> SocketAddresses? {
        var local = [UInt8](repeating: 0, count: 64)
        var peer = [UInt8](repeating: 0, count: 64)
        let localLength = local.withUnsafeMutableBufferPointer { cs_local_address(fd, $0.baseAddress, Int32($0.count)) }
        let peerLength = peer.withUnsafeMutableBufferPointer { cs_peer_address(fd, $0.baseAddress, Int32($0.count)) }
        guard localLength > 0, peerLength > 0 else { return nil }
        return SocketAddresses(local: decodeUTF8Lossy(Array(local[0..<Int(localLength)])),
                               peer: decodeUTF8Lossy(Array(peer[0..<Int(peerLength)])))
    }

    private mutating func closeTunnel(_ tunnelID: UInt32) {
        if let splice = splices.removeValue(forKey: tunnelID) {
            finish(tunnelID, splice, reason: "closed by the agent")
            return
        }
        drop(.tunnelTarget(tunnelID))
        drop(.tunnelData(tunnelID))
        stopResolving(.tunnelTarget(tunnelID))
        stopResolving(.tunnelData(tunnelID))
    }

    /// Closes a splice already taken out of the table and reports its bytes.
    private mutating func finish(_ tunnelID: UInt32, _ splice: Splice, reason: String) {
        splice.closeSockets()
        pending += core.tunnelFinished(tunnelID, bytesToStreampoint: splice.bytesUp, bytesFromStreampoint: splice.bytesDown,
                                       reason: reason, now: cs_monotonic_ms())
    }

    private mutating func startSplice(_ tunnelID: UInt32, toTarget: [UInt8]) {
        guard let target = sockets.removeValue(forKey: .tunnelTarget(tunnelID)),
              let data = sockets.removeValue(forKey: .tunnelData(tunnelID)) else {
            logger.log(.error, "tunnel \(tunnelID): sockets missing at splice start")
            return
        }
        var splice = Splice(tunnelID: tunnelID, target: target.transport, data: data.transport)
        // The handshake's bytes are small (one read), far below a queue's capacity.
        // They came in with HELLO_ACK, through the core, so the splice never read
        // them: count them here, or an echo's first bytes go missing from the stats.
        _ = splice.downstream.append(toTarget)
        splice.bytesDown += UInt64(toTarget.count)
        _ = splice.upstream.append(data.outbound)
        splices[tunnelID] = splice
        handleSplice(tunnelID, targetRevents: 0, dataRevents: 0)
    }
}
