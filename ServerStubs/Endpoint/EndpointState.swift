import CamNIO
import CamProtocol
import Foundation
import NIOCore

let component = "endpoint"

/// A streaming server agents can be sent to (`--streampoint ID=HOST:PORT` or
/// `--streampoint ID=tls://HOST:PORT`). Encoded as is by `GET /streampoints`.
struct StreampointInfo: Codable, Equatable {
    var id: String
    /// Sent to agents as given: with TLS it is the name they check the certificate against.
    var host: String
    var port: Int
    /// The streampoint's agent port speaks TLS (STREAMPOINT_ASSIGN flags bit 0).
    var tls: Bool

    static let syntax = "ID=HOST:PORT or ID=tls://HOST:PORT"

    /// Parses `ID=HOST:PORT` (plain) or `ID=tls://HOST:PORT` (TLS).
    init(argument: String) throws {
        guard let equals = argument.firstIndex(of: "=") else {
            throw ValidationFailure("--streampoint \(argument): expected \(Self.syntax), e.g. sp1=tls://sp1.example.net:7100")
        }
        let id = String(argument[..<equals])
        var address = String(argument[argument.index(after: equals)...])
        guard Identifier.isValid(id) else {
            throw ValidationFailure("--streampoint \(argument): id must be \(Identifier.rule)")
        }
        var tls = false
        if address.hasPrefix("tls://") {
            tls = true
            address.removeFirst("tls://".count)
        } else if let scheme = address.range(of: "://") {
            throw ValidationFailure("--streampoint \(argument): unknown scheme \(address[..<scheme.lowerBound])://; use tls://HOST:PORT for TLS or HOST:PORT for plain TCP")
        }
        guard let hostPort = HostPort(address), (1...65535).contains(hostPort.port) else {
            throw ValidationFailure("--streampoint \(argument): expected HOST:PORT with a port from 1 to 65535 after '\(tls ? "tls://" : "=")'")
        }
        guard hostPort.host.utf8.count <= 255 else {
            throw ValidationFailure("--streampoint \(argument): host must be at most 255 bytes")
        }
        self.id = id
        self.host = hostPort.host
        self.port = hostPort.port
        self.tls = tls
    }

    /// `tls://host:port` or `host:port`, for logs.
    var address: String { (tls ? "tls://" : "") + HostPort(host: host, port: port).description }

    /// True when HOST is a numeric IPv4 or IPv6 address rather than a DNS name.
    var hostIsIPAddress: Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0 == "." || $0.isNumber })
    }
}

/// What the endpoint knows about an agent besides its registry record. In memory only.
struct AgentStatus {
    var lastSeen: Date?
    var remoteAddress: String?
    var software: String?
    var buildTarget: String?
}

/// All mutable endpoint state: registry, sessions, agent status. Confined to the
/// endpoint's single event loop (agent links and the admin API both run on it),
/// so it needs no locks; every entry point checks that it runs on that loop.
final class EndpointState: @unchecked Sendable {
    struct Settings {
        var registryPath: String
        var streampoints: [StreampointInfo]
        var ticketKey: [UInt8]
        var ticketLifetime: UInt64
        var maxPending: Int
        var link: EndpointLinkStateMachine.Configuration
    }

    let eventLoop: EventLoop
    let settings: Settings
    private(set) var registry: Registry
    private var registryStamp: FileStamp?
    /// Set while the file on disk is unreadable or malformed; the endpoint keeps its
    /// last good copy and refuses to overwrite the file until it is fixed.
    private(set) var registryProblem: String?
    private var sessions: [String: EndpointLinkHandler] = [:]
    private var status: [String: AgentStatus] = [:]
    /// Connections that have not authenticated yet (bounded by `maxPending`).
    private(set) var pendingConnections = 0
    private var random = SystemRandomNumberGenerator()
    /// Failed attempts per agent id/serial and per address (EndpointActivation.swift).
    var failureLimiter = FailureLimiter()

    init(eventLoop: EventLoop, settings: Settings, registry: Registry) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.registry = registry
        self.registryStamp = FileStamp.of(path: settings.registryPath)
    }

    var defaultStreampoint: StreampointInfo { settings.streampoints[0] }

    func streampoint(id: String) -> StreampointInfo? {
        settings.streampoints.first { $0.id == id }
    }

    func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    }

    // MARK: registry

    /// Picks up changes made by another process (`camagent-endpoint enroll` while
    /// the endpoint runs). Cheap: one stat(2) unless the file changed.
    func refreshRegistryIfChanged() {
        eventLoop.preconditionInEventLoop()
        let path = settings.registryPath
        let stamp = FileStamp.of(path: path)
        guard stamp != registryStamp else { return }
        registryStamp = stamp
        guard stamp != nil else {
            // Deleted: keep serving the agents we know; the next write recreates it.
            ServerLog.warn(component, "registry \(path) disappeared; keeping \(registry.agents.count) agents in memory")
            return
        }
        do {
            let loaded = try Registry.load(path: path).registry
            registry = loaded
            registryProblem = nil
            closeRevokedSessions()
            ServerLog.info(component, "registry \(path) changed on disk; reloaded \(loaded.agents.count) agents")
        } catch {
            registryProblem = "\(error)"
            ServerLog.error(component, "\(error); keeping the previous \(registry.agents.count) agents")
        }
    }

    func verifier(for agentID: String) -> [UInt8]? {
        refreshRegistryIfChanged()
        return registry.verifier(for: agentID)
    }

    enum AssignmentError: Error {
        case unknownAgent
        case unknownStreampoint
        case registryUnwritable(String)
    }

    /// Operator reassignment: persist, then move the agent at once if it is online.
    func assign(agentID: String, streampointID: String) throws -> AgentView {
        eventLoop.preconditionInEventLoop()
        refreshRegistryIfChanged()
        guard var record = registry[agentID] else { throw AssignmentError.unknownAgent }
        guard streampoint(id: streampointID) != nil else { throw AssignmentError.unknownStreampoint }
        if let problem = registryProblem {
            throw AssignmentError.registryUnwritable("\(problem); not overwriting it")
        }
        record.streampoint = streampointID
        var updated = registry
        updated.upsert(record)
        do {
            try updated.save(path: settings.registryPath)
        } catch {
            ServerLog.error(component, "\(error)")
            throw AssignmentError.registryUnwritable("\(error)")
        }
        registry = updated
        registryStamp = FileStamp.of(path: settings.registryPath)
        ServerLog.info(component, "agent \(agentID) assigned to streampoint \(streampointID) (saved to registry)")
        if let session = sessions[agentID] {
            session.push(assignment(for: agentID))
        }
        return view(of: agentID)!
    }

    /// The streampoint an agent should use: its assignment if that streampoint is
    /// configured, otherwise the default (first) one.
    func effectiveStreampoint(for agentID: String) -> StreampointInfo {
        if let assigned = registry[agentID]?.streampoint {
            if let sp = streampoint(id: assigned) { return sp }
            ServerLog.warn(component, "agent \(agentID) is assigned to streampoint \(assigned), which this endpoint does not know; using \(defaultStreampoint.id)")
        }
        return defaultStreampoint
    }

    /// STREAMPOINT_ASSIGN with a freshly signed ticket.
    func assignment(for agentID: String) -> Message {
        let sp = effectiveStreampoint(for: agentID)
        let now = UInt64(max(0, Date().timeIntervalSince1970))
        let ticket = Ticket(agentID: agentID, streampointID: sp.id,
                            expiresAt: now + settings.ticketLifetime,
                            nonce: randomBytes(ProtocolConstants.ticketNonceSize))
        ServerLog.info(component, "sending agent \(agentID) to streampoint \(sp.id) at \(sp.address) (ticket valid \(settings.ticketLifetime) s)")
        return .streampointAssign(streampointID: sp.id, host: sp.host, port: UInt16(sp.port),
                                  ticket: ticket.signed(key: settings.ticketKey), tls: sp.tls)
    }

    // MARK: connections and sessions

    /// Admission control for a new TCP connection; false means close it now.
    func admitConnection(remote: String) -> Bool {
        eventLoop.preconditionInEventLoop()
        guard pendingConnections < settings.maxPending else {
            ServerLog.warn(component, "\(remote): refused, already \(pendingConnections) unauthenticated connections (--max-pending)")
            return false
        }
        pendingConnections += 1
        return true
    }

    func pendingConnectionFinished() {
        pendingConnections -= 1
    }

    func sessionAuthenticated(agentID: String, handler: EndpointLinkHandler, remote: String) {
        eventLoop.preconditionInEventLoop()
        if let old = sessions[agentID], old !== handler {
            ServerLog.info(component, "agent \(agentID): new session from \(remote) replaces the one from \(old.remote)")
            old.replaced()
        }
        sessions[agentID] = handler
        var entry = status[agentID] ?? AgentStatus()
        entry.lastSeen = Date()
        entry.remoteAddress = remote
        status[agentID] = entry
        handler.push(assignment(for: agentID))
    }

    func sessionClosed(agentID: String, handler: EndpointLinkHandler) {
        eventLoop.preconditionInEventLoop()
        if sessions[agentID] === handler {
            sessions[agentID] = nil
            status[agentID]?.lastSeen = Date()
        }
    }

    func seen(agentID: String, handler: EndpointLinkHandler) {
        guard sessions[agentID] === handler else { return }
        status[agentID, default: AgentStatus()].lastSeen = Date()
    }

    func agentInfo(agentID: String, software: String, buildTarget: String) {
        status[agentID, default: AgentStatus()].software = software
        status[agentID, default: AgentStatus()].buildTarget = buildTarget
        ServerLog.info(component, "agent \(agentID) runs \(bounded(software)) built for \(bounded(buildTarget))")
    }

    func isOnline(_ agentID: String) -> Bool { sessions[agentID] != nil }

    func session(of agentID: String) -> EndpointLinkHandler? { sessions[agentID] }

    var onlineAgentIDs: [String] { Array(sessions.keys) }

    /// Saves `updated` (atomically) and adopts it; refuses while the file on disk
    /// is malformed, so an operator's broken edit is not overwritten.
    func commitRegistry(_ updated: Registry) throws {
        eventLoop.preconditionInEventLoop()
        if let problem = registryProblem { throw ValidationFailure("\(problem); not overwriting it") }
        try updated.save(path: settings.registryPath)
        registry = updated
        registryStamp = FileStamp.of(path: settings.registryPath)
    }

    /// Tells every online agent the endpoint is going away (they reconnect later).
    func shutdownSessions() {
        eventLoop.preconditionInEventLoop()
        for (_, session) in sessions {
            session.closeWithError(.shuttingDown, "endpoint is shutting down")
        }
    }

    // MARK: views for the admin API

    func view(of agentID: String) -> AgentView? {
        guard registry[agentID] != nil else { return nil }
        let entry = status[agentID] ?? AgentStatus()
        return AgentView(id: agentID, online: isOnline(agentID),
                         streampoint: effectiveStreampoint(for: agentID).id,
                         lastSeen: entry.lastSeen.map { isoFormatter.string(from: $0) },
                         remoteAddress: entry.remoteAddress,
                         software: entry.software, buildTarget: entry.buildTarget)
    }

    private let isoFormatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
}

/// Peer-supplied text for a log line: quoted, escaped, at most 100 characters.
func bounded(_ text: String) -> String {
    (text.count > 100 ? String(text.prefix(100)) + "…" : text).debugDescription
}
