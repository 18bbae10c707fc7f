import CamNIO
import CamProtocol
import EndpointCore
import Foundation
import NIOCore
import ServerMetrics

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

    /// The streampoint after `id` in `list`, wrapping; nil with fewer than two.
    static func following(_ id: String, in list: [StreampointInfo]) -> StreampointInfo? {
        guard list.count >= 2, let index = list.firstIndex(where: { $0.id == id }) else { return nil }
        return list[(index + 1) % list.count]
    }

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
    /// From AGENT_INFO; nil when the agent sent none (a unit with a fixed identity).
    var serial: String?
    var mac: String?
    var model: String?
    /// The agent's latest AGENT_STATS.
    var stats: ReceivedStats?
}

/// An AGENT_STATS report and when it arrived.
struct ReceivedStats {
    var report: StatsReport
    var receivedAt: Date
}

/// All mutable endpoint state: registry, sessions, agent status. Confined to the
/// endpoint's single event loop (agent links and the admin API both run on it),
/// so it needs no locks; every entry point checks that it runs on that loop.
final class EndpointState: @unchecked Sendable {
    struct Settings {
        /// This process in presence rows: other endpoints see its sessions under it.
        var endpointID: String
        var streampoints: [StreampointInfo]
        var ticketKey: [UInt8]
        var ticketLifetime: UInt64
        var link: EndpointLinkStateMachine.Configuration
        /// CONFIG_PUSH after each login when not empty (--agent-endpoint, main first).
        var agentEndpoints: [EndpointEntry] = []
        /// --main-recheck; 0 lets agents use their own default.
        var mainRecheckSeconds: UInt16 = 0
        /// How long an admin command waits for the agent's answer.
        var commandTimeout: TimeAmount = .seconds(5)
    }

    let eventLoop: EventLoop
    let settings: Settings
    /// The shared registry (SQLite or PostgreSQL), reached off the event loop.
    let registryWorker: RegistryWorker
    /// The endpoint's copy of the registry: what logins and the admin API read.
    /// Refreshed when the store's generation moves (RegistryCache.swift).
    var registry = Registry()
    /// The store generation `registry` was read at; nil until the first load.
    var registryGeneration: Int64?
    /// Set while the store cannot be reached: logins are refused (retryable),
    /// agents online stay online.
    var registryProblem: String?
    var refreshInFlight: EventLoopFuture<Void>?
    /// Streampoints connected over the channel: told the revoked set whenever it changes.
    var streampointHub: StreampointHub?
    var refreshQueued: EventLoopPromise<Void>?
    private var sessions: [String: EndpointLinkHandler] = [:]
    private var status: [String: AgentStatus] = [:]
    private var random = SystemRandomNumberGenerator()
    /// Failed attempts per agent id/serial and per address (EndpointActivation.swift).
    var failureLimiter = FailureLimiter()
    /// Admin commands waiting for their agent (EndpointState+Commands.swift).
    var pendingCommands = PendingCommands<EventLoopPromise<AgentAnswer>>()
    /// Units that confirmed a reset and may re-activate while still looking online.
    var resetAllowances = ResetAllowances()

    init(eventLoop: EventLoop, settings: Settings, registryWorker: RegistryWorker) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.registryWorker = registryWorker
    }

    var defaultStreampoint: StreampointInfo { settings.streampoints[0] }

    func streampoint(id: String) -> StreampointInfo? {
        settings.streampoints.first { $0.id == id }
    }

    func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    }

    // MARK: registry

    func verifier(for agentID: String) -> [UInt8]? {
        registry.verifier(for: agentID)
    }

    enum AssignmentError: Error {
        case unknownAgent
        case unknownStreampoint(String)
        case backupIsMain
        case registryUnwritable(String)
    }

    /// Operator reassignment: persist, then move the agent at once if it is online
    /// (a fresh STREAMPOINT_ASSIGN; the agent registers at the new streampoint
    /// before it leaves the old one). `backupID` nil: the one after the main
    /// streampoint in the --streampoint list.
    func assign(agentID: String, streampointID: String, backupID: String? = nil) -> EventLoopFuture<AgentView> {
        eventLoop.preconditionInEventLoop()
        guard streampoint(id: streampointID) != nil else {
            return eventLoop.makeFailedFuture(AssignmentError.unknownStreampoint(streampointID))
        }
        if let backupID {
            guard streampoint(id: backupID) != nil else { return eventLoop.makeFailedFuture(AssignmentError.unknownStreampoint(backupID)) }
            guard backupID != streampointID else { return eventLoop.makeFailedFuture(AssignmentError.backupIsMain) }
        }
        return registryWorker.run(on: eventLoop) { store in
            try store.assign(agentID: agentID, streampointID: streampointID, backupID: backupID)
        }.flatMapErrorThrowing { error in
            ServerLog.error(component, "agent \(agentID): assignment not saved: \(error)")
            throw AssignmentError.registryUnwritable("\(error)")
        }.flatMapThrowing { change in
            guard change.result != nil else { throw AssignmentError.unknownAgent }
            self.registry.merge(change.records)
            ServerLog.info(component, "agent \(agentID) assigned to streampoint \(streampointID)"
                           + (backupID.map { " with backup \($0)" } ?? "") + " (saved to registry)")
            if let session = self.sessions[agentID] {
                session.push(self.assignment(for: agentID))
            }
            return self.view(of: agentID)!
        }
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

    /// Where the agent goes on its own if its streampoint dies: the backup the
    /// operator chose if it is configured and not the main one, else the next
    /// --streampoint after the main one (wrapping); nil with a single streampoint.
    func backupStreampoint(for agentID: String) -> StreampointInfo? {
        let main = effectiveStreampoint(for: agentID)
        if let chosen = registry[agentID]?.backupStreampoint, chosen != main.id, let sp = streampoint(id: chosen) {
            return sp
        }
        return StreampointInfo.following(main.id, in: settings.streampoints)
    }

    /// STREAMPOINT_ASSIGN naming the main and the backup streampoint, each with
    /// its own freshly signed ticket (a ticket names its streampoint).
    func assignment(for agentID: String) -> Message {
        let sp = effectiveStreampoint(for: agentID)
        let backup = backupStreampoint(for: agentID)
        ServerLog.info(component, "sending agent \(agentID) to streampoint \(sp.id) at \(sp.address)"
                       + (backup.map { ", backup \($0.id) at \($0.address)" } ?? "")
                       + " (tickets valid \(settings.ticketLifetime) s)")
        let main = offer(sp, to: agentID)
        return .streampointAssign(streampointID: main.streampointID, host: main.host, port: main.port,
                                  ticket: main.ticket, tls: main.tls, backup: backup.map { offer($0, to: agentID) })
    }

    private func offer(_ sp: StreampointInfo, to agentID: String) -> StreampointOffer {
        let now = UInt64(max(0, Date().timeIntervalSince1970))
        let ticket = Ticket(agentID: agentID, streampointID: sp.id,
                            expiresAt: now + settings.ticketLifetime,
                            nonce: randomBytes(ProtocolConstants.ticketNonceSize))
        return StreampointOffer(streampointID: sp.id, host: sp.host, port: UInt16(sp.port),
                                ticket: ticket.signed(key: settings.ticketKey), tls: sp.tls)
    }

    /// CONFIG_PUSH with --agent-endpoint and --main-recheck; nil when none was given.
    var configPush: Message? {
        guard !settings.agentEndpoints.isEmpty else { return nil }
        return .configPush(endpoints: settings.agentEndpoints, mainRecheckSeconds: settings.mainRecheckSeconds)
    }

    // MARK: connections and sessions

    func sessionAuthenticated(agentID: String, handler: EndpointLinkHandler, remote: String) {
        eventLoop.preconditionInEventLoop()
        if let old = sessions[agentID], old !== handler {
            ServerLog.info(component, "agent \(agentID): new session from \(remote) replaces the one from \(old.remote)")
            old.replaced()
        }
        sessions[agentID] = handler
        EndpointMetrics.agentsOnline(sessions.count)
        var entry = status[agentID] ?? AgentStatus()
        entry.lastSeen = Date()
        entry.remoteAddress = remote
        status[agentID] = entry
        handler.push(assignment(for: agentID))
        if let configPush { handler.push(configPush) }
    }

    func sessionClosed(agentID: String, handler: EndpointLinkHandler) {
        eventLoop.preconditionInEventLoop()
        if sessions[agentID] === handler {
            sessions[agentID] = nil
            EndpointMetrics.agentsOnline(sessions.count)
            status[agentID]?.lastSeen = Date()
            abandonPendingCommands(of: agentID)
            releasePresence(of: agentID)
        }
    }

    func seen(agentID: String, handler: EndpointLinkHandler) {
        guard sessions[agentID] === handler else { return }
        status[agentID, default: AgentStatus()].lastSeen = Date()
    }

    func agentInfo(agentID: String, software: String, buildTarget: String, serial: String, mac: String, model: String) {
        var entry = status[agentID, default: AgentStatus()]
        entry.software = software
        entry.buildTarget = buildTarget
        entry.serial = serial.isEmpty ? nil : serial
        entry.mac = mac.isEmpty ? nil : mac
        entry.model = model.isEmpty ? nil : model
        status[agentID] = entry
        let unit = serial.isEmpty ? "" : ", unit \(bounded(serial)) (\(bounded(model)), MAC \(bounded(mac)))"
        ServerLog.info(component, "agent \(agentID) runs \(bounded(software)) built for \(bounded(buildTarget))\(unit)")
    }

    func status(of agentID: String) -> AgentStatus? { status[agentID] }

    /// Keeps the latest AGENT_STATS and logs a change of streampoint it reports.
    func statsReceived(agentID: String, report: StatsReport) {
        eventLoop.preconditionInEventLoop()
        let previous = status[agentID]?.stats?.report
        status[agentID, default: AgentStatus()].stats = ReceivedStats(report: report, receivedAt: Date())
        if previous?.streampointID != report.streampointID || previous?.streampointState != report.streampointState {
            let place = report.streampointID.isEmpty ? "no streampoint" : "streampoint " + (Identifier.isValid(report.streampointID) ? report.streampointID : bounded(report.streampointID))
            ServerLog.info(component, "agent \(agentID) now on \(place) (\(report.streampointState.name)), reported: \(report.reason.name)")
        } else {
            ServerLog.debug(component, "agent \(agentID) reported its stats (\(report.reason.name))")
        }
        answerStatsRequests(of: agentID)
    }

    func isOnline(_ agentID: String) -> Bool { sessions[agentID] != nil }

    func session(of agentID: String) -> EndpointLinkHandler? { sessions[agentID] }

    var onlineAgentIDs: [String] { Array(sessions.keys) }

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
                         backupStreampoint: backupStreampoint(for: agentID)?.id,
                         currentStreampoint: entry.stats.flatMap { $0.report.streampointID.isEmpty ? nil : $0.report.streampointID },
                         streampointState: entry.stats?.report.streampointState.name,
                         lastSeen: entry.lastSeen.map { isoFormatter.string(from: $0) },
                         remoteAddress: entry.remoteAddress,
                         software: entry.software, buildTarget: entry.buildTarget,
                         serial: entry.serial, mac: entry.mac, model: entry.model)
    }

    /// The agent's latest report for `GET /api/agents/ID`.
    func statsView(of agentID: String) -> StatsView? {
        status[agentID]?.stats.map { StatsView($0, timestamp: isoFormatter.string(from:)) }
    }

    private let isoFormatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
}

