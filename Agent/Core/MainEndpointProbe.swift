import CamProtocol

/// While the agent is on a backup endpoint it checks, every recheck interval,
/// whether the main endpoint answers again: connect, upgrade, HELLO, and wait
/// for HELLO_ACK, then close. Only an answering main endpoint makes the agent
/// leave a working backup, so a main that is still down costs nothing.
struct MainEndpointProbe: Sendable {
    enum Phase: Equatable, Sendable {
        case idle
        case waiting(until: Int64)
        case connecting(deadline: Int64)
        case awaitingHelloAck(deadline: Int64)
    }

    enum Event: Sendable {
        /// The main endpoint answered HELLO: move back to it.
        case mainAnswers
    }

    private(set) var phase = Phase.idle
    private var reader = LinkReader(rawAfterHelloAck: false)
    private var target: ServerAddress?

    var deadline: Int64? {
        switch phase {
        case .idle: return nil
        case .waiting(let until): return until
        case .connecting(let deadline), .awaitingHelloAck(let deadline): return deadline
        }
    }

    private var inFlight: Bool {
        switch phase {
        case .connecting, .awaitingHelloAck: return true
        default: return false
        }
    }

    /// Plans the next check (nil: none). A check in flight is left to finish.
    mutating func schedule(at time: Int64?) {
        guard !inFlight else { return }
        phase = time.map { .waiting(until: $0) } ?? .idle
    }

    mutating func cancel() -> Output<Event> {
        let close: [AgentAction] = inFlight ? [.close(.endpointProbe)] : []
        phase = .idle
        return Output(close)
    }

    mutating func tick(now: Int64, main: ServerAddress, recheckMs: Int64) -> Output<Event> {
        switch phase {
        case .waiting(let until) where now >= until:
            target = main
            reader = LinkReader(rawAfterHelloAck: false)
            phase = .connecting(deadline: now + Tunables.mainEndpointCheckTimeoutMs)
            return Output([.log(.debug, "endpoint: checking whether main endpoint \(main.display) answers again"),
                           .connect(.endpointProbe, main)])
        case .connecting(let deadline) where now >= deadline, .awaitingHelloAck(let deadline) where now >= deadline:
            return failed("timed out", now: now, recheckMs: recheckMs, closeSocket: true)
        default:
            return Output()
        }
    }

    mutating func connected(now: Int64) -> Output<Event> {
        guard case .connecting(let deadline) = phase, let target else { return Output() }
        phase = .awaitingHelloAck(deadline: deadline)
        var bytes = HTTPUpgrade.request(host: target.display)
        bytes += Message.hello(version: ProtocolConstants.version, role: .endpointControl,
                               software: AgentVersion.software).encoded()
        return Output([.send(.endpointProbe, bytes)])
    }

    mutating func received(_ bytes: [UInt8], now: Int64, recheckMs: Int64) -> Output<Event> {
        guard case .awaitingHelloAck = phase else { return Output() }
        for input in reader.feed(bytes) {
            switch input {
            case .upgraded:
                continue
            case .message(.helloAck):
                phase = .idle
                return Output([.close(.endpointProbe)], events: [.mainAnswers])
            case .message(let other):
                return failed("answered \(other.name)", now: now, recheckMs: recheckMs, closeSocket: true)
            case .violation(let error), .upgradeFailed(let error):
                return failed(error.description, now: now, recheckMs: recheckMs, closeSocket: true)
            case .raw:
                return failed("sent raw bytes", now: now, recheckMs: recheckMs, closeSocket: true)
            }
        }
        return Output()
    }

    mutating func failed(_ reason: String, now: Int64, recheckMs: Int64, closeSocket: Bool) -> Output<Event> {
        guard inFlight else { return Output() }
        phase = .waiting(until: now + recheckMs)
        var out = Output<Event>(closeSocket ? [.close(.endpointProbe)] : [])
        out.append(.log(.debug, "endpoint: main endpoint \(target?.display ?? "?") still not answering (\(reason)); "
                        + "next check in \(formatMillis(recheckMs))"))
        return out
    }
}
