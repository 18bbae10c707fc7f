/// One name resolution (A and AAAA, asked side by side) as a pure state
/// machine: time and datagrams in, datagrams to send and a result out. The
/// runtime gives each (query, server) pair its own connected UDP socket, so a
/// late answer to an earlier transmission is still accepted, and the kernel
/// picks a fresh random source port for each.
///
/// Schedule per query, as libc's resolver: step s asks server s % n and waits
/// `timeoutMs`; `attempts` rounds over the servers. A server that fails
/// outright (SERVFAIL, REFUSED, port unreachable, a truncated answer even over
/// TCP) moves the query to the next step at once. A truncated UDP answer
/// restarts the step's timer for the same server over TCP. The whole lookup ends by `limitMs` whatever happens,
/// so a caller with its own deadline can still use a known address after it.
public struct DNSLookup {
    public enum Action: Equatable, Sendable {
        /// Send `packet` to `settings.nameservers[server]` on the socket of (query, server).
        case send(query: Int, server: Int, packet: [UInt8])
        /// The server's answer was truncated: ask it again over TCP (RFC 7766:
        /// the same message behind a 2-byte length) and pass the answer to
        /// `received(..., overTCP: true)`.
        case sendTCP(query: Int, server: Int, packet: [UInt8])
        /// A datagram was dropped (not an answer to us), for the debug log.
        case ignored(String)
        case finished(Result)
    }

    public enum Result: Equatable, Sendable {
        case addresses([IPAddress])
        case failed(String)
    }

    /// The two questions asked, in the order their addresses are returned.
    public static let types: [UInt16] = [DNSMessage.typeA, DNSMessage.typeAAAA]
    /// Addresses returned at most (A first, then AAAA).
    public static let maxAddresses = 4

    enum Outcome: Equatable {
        case addresses([IPAddress])
        case nameError
        case failed(String)
    }

    struct Query {
        let type: UInt16
        /// One id per server, kept for that server's retransmissions.
        let ids: [UInt16]
        var step = 0
        var stepEndsAt: Int64 = 0
        var outcome: Outcome?
        var lastProblem = "no answer"
    }

    public let settings: ResolverSettings
    let name: [UInt8]
    var queries: [Query] = []
    let endsAt: Int64
    public private(set) var isFinished = false

    /// Random ids the lookup needs, one per (query, server): pass that many from the entropy source.
    public static func idsNeeded(_ settings: ResolverSettings) -> Int { types.count * settings.nameservers.count }

    public init(name: [UInt8], settings: ResolverSettings, ids: [UInt16], limitMs: Int64, now: Int64) {
        var settings = settings
        if settings.nameservers.isEmpty { settings.nameservers = [Nameserver(address: IPAddress(bytes: [127, 0, 0, 1])!)] }
        self.settings = settings
        self.name = name
        endsAt = now + limitMs
        let perQuery = settings.nameservers.count
        for (index, type) in DNSLookup.types.enumerated() {
            var queryIDs: [UInt16] = []
            for server in 0..<perQuery {
                let slot = index * perQuery + server
                queryIDs.append(slot < ids.count ? ids[slot] : 0)
            }
            queries.append(Query(type: type, ids: queryIDs))
        }
    }

    /// The first datagrams (or an immediate failure for a name DNS cannot carry).
    public mutating func start(now: Int64) -> [Action] {
        var actions: [Action] = []
        for index in queries.indices { actions += send(index, now: now) }
        return actions + finishIfDone()
    }

    public var nextDeadline: Int64? {
        guard !isFinished else { return nil }
        var deadline = endsAt
        for query in queries where query.outcome == nil { deadline = min(deadline, query.stepEndsAt) }
        return deadline
    }

    public mutating func tick(now: Int64) -> [Action] {
        guard !isFinished else { return [] }
        if now >= endsAt {
            for index in queries.indices where queries[index].outcome == nil {
                queries[index].outcome = .failed("no answer from the name servers")
            }
            return finishIfDone()
        }
        var actions: [Action] = []
        for index in queries.indices where queries[index].outcome == nil && now >= queries[index].stepEndsAt {
            // With the other family answered, one unanswered step is all this one gets.
            if hasAddresses {
                queries[index].outcome = .failed(queries[index].lastProblem)
                continue
            }
            queries[index].step += 1
            actions += send(index, now: now)
        }
        return actions + finishIfDone()
    }

    /// A datagram on the socket of (query, server), from `source` (nil when the
    /// runtime could not tell; its socket is connected to the server anyway).
    public mutating func received(query index: Int, server: Int, from source: Nameserver?, packet: [UInt8],
                                  overTCP: Bool = false, now: Int64) -> [Action] {
        guard !isFinished, queries.indices.contains(index), settings.nameservers.indices.contains(server),
              queries[index].outcome == nil else { return [] }
        if let source, source != settings.nameservers[server] { return [.ignored("datagram from an unexpected address")] }
        switch DNSMessage.parse(packet, id: queries[index].ids[server], name: name, type: queries[index].type) {
        case .unrelated(let why):
            return [.ignored(why)]
        case .addresses(let found):
            queries[index].outcome = .addresses(found)
        case .nameError:
            queries[index].outcome = .nameError
        case .serverFailure(let why):
            return serverFailed(query: index, server: server, why, now: now)
        case .truncated:
            guard !overTCP, queries[index].step % settings.nameservers.count == server,
                  let packet = DNSMessage.query(id: queries[index].ids[server], name: name, type: queries[index].type) else {
                return serverFailed(query: index, server: server, "truncated answer", now: now)
            }
            queries[index].stepEndsAt = now + settings.timeoutMs
            return [.sendTCP(query: index, server: server, packet: packet)]
        }
        return finishIfDone()
    }

    /// The socket of (query, server) failed (e.g. ICMP port unreachable).
    public mutating func socketFailed(query index: Int, server: Int, _ why: String, now: Int64) -> [Action] {
        guard !isFinished, queries.indices.contains(index), queries[index].outcome == nil else { return [] }
        return serverFailed(query: index, server: server, why, now: now)
    }

    private mutating func serverFailed(query index: Int, server: Int, _ why: String, now: Int64) -> [Action] {
        queries[index].lastProblem = why
        // Only the server the query currently waits on moves it on; a late failure of an earlier one does not.
        guard queries[index].step % settings.nameservers.count == server else { return [] }
        queries[index].step += 1
        return send(index, now: now) + finishIfDone()
    }

    private mutating func send(_ index: Int, now: Int64) -> [Action] {
        let servers = settings.nameservers.count
        guard queries[index].step < servers * max(settings.attempts, 1) else {
            queries[index].outcome = .failed(queries[index].lastProblem)
            return []
        }
        let server = queries[index].step % servers
        guard let packet = DNSMessage.query(id: queries[index].ids[server], name: name, type: queries[index].type) else {
            queries[index].outcome = .failed("not a valid DNS name")
            return []
        }
        queries[index].stepEndsAt = now + settings.timeoutMs
        return [.send(query: index, server: server, packet: packet)]
    }

    private mutating func finishIfDone() -> [Action] {
        guard !isFinished else { return [] }
        var addresses: [IPAddress] = []
        var nameError = false
        var problem: String?
        for query in queries {
            switch query.outcome {
            case nil: return []
            case .addresses(let found):
                for address in found where addresses.count < DNSLookup.maxAddresses { addresses.append(address) }
            case .nameError: nameError = true
            case .failed(let why): problem = problem ?? why
            }
        }
        isFinished = true
        if !addresses.isEmpty { return [.finished(.addresses(addresses))] }
        if nameError { return [.finished(.failed("no such name"))] }
        if let problem { return [.finished(.failed(problem))] }
        return [.finished(.failed("no address"))]
    }

    private var hasAddresses: Bool {
        for query in queries { if case .addresses(let found) = query.outcome, !found.isEmpty { return true } }
        return false
    }
}
