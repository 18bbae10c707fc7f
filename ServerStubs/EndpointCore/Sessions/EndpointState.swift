import CamNIO
import CamProtocol
import Foundation
import NIOCore
import ServerMetrics

let component = "endpoint"

/// The running endpoint: its copy of the shared registry, the session table,
/// the assignment and admission policy, and the admin commands in flight.
/// Confined to the endpoint's single event loop (agent links and the admin API
/// both run on it), so it needs no locks; every entry point checks that it
/// runs on that loop.
public final class EndpointState: @unchecked Sendable {
    public struct Settings {
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
        /// --max-pending: agent links mid-handshake at once.
        var maxPending = 256

        /// `serverName` goes to agents in HELLO_ACK; `heartbeatSeconds` and
        /// `peerTimeoutSeconds` in AUTH_OK, and the link keepalive runs by them.
        public init(endpointID: String, streampoints: [StreampointInfo], ticketKey: [UInt8], ticketLifetime: UInt64,
                    serverName: String, heartbeatSeconds: UInt16, peerTimeoutSeconds: UInt16,
                    agentEndpoints: [EndpointEntry] = [], mainRecheckSeconds: UInt16 = 0,
                    commandTimeout: TimeAmount = .seconds(5), maxPending: Int = 256) {
            self.endpointID = endpointID
            self.streampoints = streampoints
            self.ticketKey = ticketKey
            self.ticketLifetime = ticketLifetime
            self.link = .init(serverName: serverName, heartbeatSeconds: heartbeatSeconds, peerTimeoutSeconds: peerTimeoutSeconds)
            self.agentEndpoints = agentEndpoints
            self.mainRecheckSeconds = mainRecheckSeconds
            self.commandTimeout = commandTimeout
            self.maxPending = maxPending
        }
    }

    public let eventLoop: EventLoop
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
    public var streampointHub: StreampointHub?
    var refreshQueued: EventLoopPromise<Void>?
    /// The agents online here and what they reported.
    private var sessions = SessionTable<EndpointLinkHandler>()
    /// Which streampoint each agent goes to, with its tickets.
    let assignmentPolicy: StreampointAssignment
    /// --max-pending, failed-attempt limits and reset allowances (LoginAdmission).
    var admission: LoginAdmission
    private var random = SystemRandomNumberGenerator()
    /// Admin commands waiting for their agent (EndpointState+Commands.swift).
    var pendingCommands = PendingCommands<EventLoopPromise<AgentAnswer>>()

    public init(eventLoop: EventLoop, settings: Settings, registryWorker: RegistryWorker) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.registryWorker = registryWorker
        assignmentPolicy = StreampointAssignment(streampoints: settings.streampoints, ticketKey: settings.ticketKey,
                                                 ticketLifetime: settings.ticketLifetime)
        admission = LoginAdmission(maxPending: settings.maxPending)
    }

    var defaultStreampoint: StreampointInfo { assignmentPolicy.defaultStreampoint }

    func streampoint(id: String) -> StreampointInfo? { assignmentPolicy.streampoint(id: id) }

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
            if let session = self.session(of: agentID) {
                session.push(self.assignment(for: agentID))
            }
            return self.view(of: agentID)!
        }
    }

    /// The streampoint an agent should use: its assignment if that streampoint is
    /// configured, otherwise the default (first) one.
    func effectiveStreampoint(for agentID: String) -> StreampointInfo {
        let assigned = registry[agentID]?.streampoint
        let main = assignmentPolicy.main(assigned: assigned)
        if let assigned, main.id != assigned {
            ServerLog.warn(component, "agent \(agentID) is assigned to streampoint \(assigned), which this endpoint does not know; using \(main.id)")
        }
        return main
    }

    /// Where the agent goes on its own if its streampoint dies (StreampointAssignment.backup).
    func backupStreampoint(for agentID: String) -> StreampointInfo? {
        assignmentPolicy.backup(chosen: registry[agentID]?.backupStreampoint, main: effectiveStreampoint(for: agentID))
    }

    /// STREAMPOINT_ASSIGN naming the main and the backup streampoint, each with
    /// its own freshly signed ticket.
    func assignment(for agentID: String) -> Message {
        let sp = effectiveStreampoint(for: agentID)
        let backup = backupStreampoint(for: agentID)
        ServerLog.info(component, "sending agent \(agentID) to streampoint \(sp.id) at \(sp.address)"
                       + (backup.map { ", backup \($0.id) at \($0.address)" } ?? "")
                       + " (tickets valid \(settings.ticketLifetime) s)")
        return assignmentPolicy.message(agentID: agentID, main: sp, backup: backup,
                                        now: UInt64(max(0, Date().timeIntervalSince1970)),
                                        nonce: { randomBytes(ProtocolConstants.ticketNonceSize) })
    }

    /// CONFIG_PUSH with --agent-endpoint and --main-recheck; nil when none was given.
    var configPush: Message? {
        guard !settings.agentEndpoints.isEmpty else { return nil }
        return .configPush(endpoints: settings.agentEndpoints, mainRecheckSeconds: settings.mainRecheckSeconds)
    }

    // MARK: connections and sessions

    func sessionAuthenticated(agentID: String, handler: EndpointLinkHandler, remote: String) {
        eventLoop.preconditionInEventLoop()
        let old = sessions.session(of: agentID)
        // The table names the new session before the old one is closed: that
        // close may run at once (a writable socket), and its sessionClosed must
        // not release the presence row the new session has just claimed.
        sessions.authenticated(agentID: agentID, session: handler, remote: remote, now: Date())
        if let old, old !== handler {
            ServerLog.info(component, "agent \(agentID): new session from \(remote) replaces the one from \(old.remote)")
            old.replaced()
        }
        EndpointMetrics.agentsOnline(sessions.count)
        handler.push(assignment(for: agentID))
        if let configPush { handler.push(configPush) }
    }

    func sessionClosed(agentID: String, handler: EndpointLinkHandler) {
        eventLoop.preconditionInEventLoop()
        if sessions.closed(agentID: agentID, session: handler, now: Date()) {
            EndpointMetrics.agentsOnline(sessions.count)
            abandonPendingCommands(of: agentID)
            releasePresence(of: agentID)
        }
    }

    func seen(agentID: String, handler: EndpointLinkHandler) {
        sessions.seen(agentID: agentID, session: handler, now: Date())
    }

    func agentInfo(agentID: String, software: String, buildTarget: String, serial: String, mac: String, model: String) {
        sessions.recordInfo(agentID: agentID, software: software, buildTarget: buildTarget, serial: serial, mac: mac, model: model)
        let unit = serial.isEmpty ? "" : ", unit \(bounded(serial)) (\(bounded(model)), MAC \(bounded(mac)))"
        ServerLog.info(component, "agent \(agentID) runs \(bounded(software)) built for \(bounded(buildTarget))\(unit)")
    }

    func status(of agentID: String) -> AgentStatus? { sessions.status(of: agentID) }

    /// Keeps the latest AGENT_STATS and logs a change of streampoint it reports.
    func statsReceived(agentID: String, report: StatsReport) {
        eventLoop.preconditionInEventLoop()
        let previous = sessions.recordStats(agentID: agentID, report: report, now: Date())
        if previous?.streampointID != report.streampointID || previous?.streampointState != report.streampointState {
            let place = report.streampointID.isEmpty ? "no streampoint" : "streampoint " + (Identifier.isValid(report.streampointID) ? report.streampointID : bounded(report.streampointID))
            ServerLog.info(component, "agent \(agentID) now on \(place) (\(report.streampointState.name)), reported: \(report.reason.name)")
        } else {
            ServerLog.debug(component, "agent \(agentID) reported its stats (\(report.reason.name))")
        }
        answerStatsRequests(of: agentID)
    }

    func isOnline(_ agentID: String) -> Bool { sessions.isOnline(agentID) }

    func session(of agentID: String) -> EndpointLinkHandler? { sessions.session(of: agentID) }

    var onlineAgentIDs: [String] { sessions.onlineAgentIDs }

    /// Tells every online agent the endpoint is going away (they reconnect later).
    public func shutdownSessions() {
        eventLoop.preconditionInEventLoop()
        for (_, session) in sessions.sessions {
            session.closeWithError(.shuttingDown, "endpoint is shutting down")
        }
    }

    // MARK: views for the admin API

    func view(of agentID: String) -> AgentView? {
        guard registry[agentID] != nil else { return nil }
        let entry = status(of: agentID) ?? AgentStatus()
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

    /// The agent as the viewer-token route needs it: the registry as it is now
    /// (a CLI enrol or revoke included); with it away, the last copy.
    public func viewerTokenAgent(_ agentID: String) async throws -> ViewerTokenAPI.Agent? {
        try await eventLoop.flatSubmit {
            self.refreshRegistry().recover { _ in }.map { () -> ViewerTokenAPI.Agent? in
                guard let agent = self.registry[agentID] else { return nil }
                return .init(revoked: self.registry.revocation(ofAgent: agentID) != nil, streampoint: agent.streampoint)
            }
        }.get()
    }

    /// Whether the registry (re-read now, a CLI enrol included; with it away, the last copy) knows the agent.
    public func agentExists(_ agentID: String) async throws -> Bool {
        try await eventLoop.flatSubmit {
            self.refreshRegistry().recover { _ in }.map { self.registry[agentID] != nil }
        }.get()
    }

    /// Re-reads the registry at once, so a change made through the API goes down the channels now, not at the next poll.
    public func registryChanged() async {
        _ = try? await eventLoop.flatSubmit { self.refreshRegistry() }.get()
    }

    /// The agent's latest report for `GET /api/agents/ID`.
    func statsView(of agentID: String) -> StatsView? {
        status(of: agentID)?.stats.map { StatsView($0, timestamp: isoFormatter.string(from:)) }
    }

    private let isoFormatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
}

