import CamNIO
import CamProtocol
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import ServerMetrics

/// One agent as the admin API shows it. Absent values are JSON null, not missing keys.
struct AgentView: Encodable, Equatable {
    var id: String
    var online: Bool
    /// The streampoint the agent is (or will be) sent to.
    var streampoint: String
    /// Where it goes on its own if that one dies (nil with a single streampoint).
    var backupStreampoint: String?
    /// What the agent last reported (AGENT_STATS): the streampoint it is on and
    /// the state of that link (none, connecting, registered). After a failover
    /// it differs from `streampoint`.
    var currentStreampoint: String?
    var streampointState: String?
    /// ISO 8601, UTC: last message from the agent, or when its last session ended.
    var lastSeen: String?
    var remoteAddress: String?
    var software: String?
    var buildTarget: String?
    /// From AGENT_INFO: the unit's serial, MAC and model (null for fixed-identity units).
    var serial: String?
    var mac: String?
    var model: String?
    /// Set while the operator has revoked the agent.
    var revoked: Revocation? = nil
    /// The latest AGENT_STATS; only in `GET /api/agents/ID` (`includeStats`).
    var stats: StatsView? = nil
    var includeStats = false

    private enum CodingKeys: String, CodingKey {
        case id, online, streampoint, backupStreampoint, currentStreampoint, streampointState, lastSeen, remoteAddress,
             software, buildTarget, serial, mac, model, revoked, stats
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(online, forKey: .online)
        try c.encode(streampoint, forKey: .streampoint)
        try c.encode(backupStreampoint, forKey: .backupStreampoint)
        try c.encode(currentStreampoint, forKey: .currentStreampoint)
        try c.encode(streampointState, forKey: .streampointState)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(remoteAddress, forKey: .remoteAddress)
        try c.encode(software, forKey: .software)
        try c.encode(buildTarget, forKey: .buildTarget)
        try c.encode(serial, forKey: .serial)
        try c.encode(mac, forKey: .mac)
        try c.encode(model, forKey: .model)
        try c.encode(revoked, forKey: .revoked)
        if includeStats { try c.encode(stats, forKey: .stats) }
    }
}

/// An agent's latest AGENT_STATS as the admin API shows it. Counters by name
/// (StatCounter); numbers this endpoint does not know appear as "counter-N".
struct StatsView: Encodable, Equatable {
    var reason: String
    var receivedAt: String
    var uptimeSeconds: UInt32
    var secondsSinceChange: UInt32
    var endpoint: String
    var streampoint: String?
    var streampointState: String
    var localAddress: String?
    var counters: [String: UInt64]

    init(_ received: ReceivedStats, timestamp: (Date) -> String) {
        let report = received.report
        reason = report.reason.name
        receivedAt = timestamp(received.receivedAt)
        uptimeSeconds = report.uptimeSeconds
        secondsSinceChange = report.secondsSinceChange
        endpoint = report.endpoint
        streampoint = report.streampointID.isEmpty ? nil : report.streampointID
        streampointState = report.streampointState.name
        localAddress = report.localAddress.isEmpty ? nil : report.localAddress
        var counters: [String: UInt64] = [:]
        for (number, value) in report.counters {
            counters[StatCounter(rawValue: number)?.name ?? "counter-\(number)"] = value
        }
        self.counters = counters
    }

    private enum CodingKeys: String, CodingKey {
        case reason, receivedAt, uptimeSeconds, secondsSinceChange, endpoint, streampoint, streampointState, localAddress, counters
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(reason, forKey: .reason)
        try c.encode(receivedAt, forKey: .receivedAt)
        try c.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try c.encode(secondsSinceChange, forKey: .secondsSinceChange)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(streampoint, forKey: .streampoint)
        try c.encode(streampointState, forKey: .streampointState)
        try c.encode(localAddress, forKey: .localAddress)
        try c.encode(counters, forKey: .counters)
    }
}

/// The answer to `POST /api/agents/ID/{disconnect,reboot,reset,stats}`.
struct CommandView: Encodable {
    var agent: String
    var command: String
    var ok: Bool
    var message: String
    /// Only for `stats`: the fresh report.
    var stats: StatsView? = nil

    private enum CodingKeys: String, CodingKey { case agent, command, ok, message, stats }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(agent, forKey: .agent)
        try c.encode(command, forKey: .command)
        try c.encode(ok, forKey: .ok)
        try c.encode(message, forKey: .message)
        if command == "stats" { try c.encode(stats, forKey: .stats) }
    }
}

struct DisconnectRequest: Decodable {
    var seconds: Int?
}

/// One factory unit as `GET /api/units` shows it: no secrets, no verifiers.
struct UnitView: Encodable, Equatable {
    var serial: String
    var agentID: String
    var model: String?
    var mac: String?
    var state: String
    var activations: Int
    var lastActivation: String?
    var cloneSuspected: Bool
    var online: Bool
    var revoked: Revocation?

    private enum CodingKeys: String, CodingKey {
        case serial, agentID, model, mac, state, activations, lastActivation, cloneSuspected, online, revoked
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(serial, forKey: .serial)
        try c.encode(agentID, forKey: .agentID)
        try c.encode(model, forKey: .model)
        try c.encode(mac, forKey: .mac)
        try c.encode(state, forKey: .state)
        try c.encode(activations, forKey: .activations)
        try c.encode(lastActivation, forKey: .lastActivation)
        try c.encode(cloneSuspected, forKey: .cloneSuspected)
        try c.encode(online, forKey: .online)
        try c.encode(revoked, forKey: .revoked)
    }
}

struct RevokeRequest: Decodable {
    var reason: String
}

/// The answer to revoke/unrevoke.
struct RevocationView: Encodable {
    var id: String
    var revoked: Revocation?
    /// The agent was online and its session was closed with ERROR(revoked).
    var sessionClosed: Bool

    private enum CodingKeys: String, CodingKey { case id, revoked, sessionClosed }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(revoked, forKey: .revoked)
        try c.encode(sessionClosed, forKey: .sessionClosed)
    }
}

struct AssignRequest: Decodable {
    var streampoint: String
    var backup: String?
}

/// One streampoint as `GET /api/streampoints` shows it: each configured one
/// (--streampoint), and each one connected over the channel, matched by id.
struct StreampointView: Encodable {
    var id: String
    /// From --streampoint; null for a streampoint that is connected but not configured here.
    var host: String?
    var port: Int?
    var tls: Bool?
    /// It holds the channel to this endpoint now.
    var connected: Bool
    /// The name of the token it connected with.
    var name: String?
    var remoteAddress: String?
    var connectedAt: String?
    var load: StreampointLoad?
    var loadReceivedAt: String?

    private enum CodingKeys: String, CodingKey {
        case id, host, port, tls, connected, name, remoteAddress, connectedAt, load, loadReceivedAt
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encode(tls, forKey: .tls)
        try c.encode(connected, forKey: .connected)
        try c.encode(name, forKey: .name)
        try c.encode(remoteAddress, forKey: .remoteAddress)
        try c.encode(connectedAt, forKey: .connectedAt)
        try c.encode(load, forKey: .load)
        try c.encode(loadReceivedAt, forKey: .loadReceivedAt)
    }

    static func list(configured: [StreampointInfo], connected: [StreampointHub.Connection]) -> [StreampointView] {
        var views = configured.map { sp in
            StreampointView(id: sp.id, host: sp.host, port: sp.port, tls: sp.tls, connected: false)
        }
        for connection in connected {
            let id = connection.id ?? connection.name
            var view = StreampointView(id: id, connected: true, name: connection.name, remoteAddress: connection.remoteAddress,
                                       connectedAt: connection.connectedAt, load: connection.load,
                                       loadReceivedAt: connection.loadReceivedAt)
            if let index = views.firstIndex(where: { $0.id == id && !$0.connected }) {
                view.host = views[index].host
                view.port = views[index].port
                view.tls = views[index].tls
                views[index] = view
            } else {
                views.append(view)
            }
        }
        return views
    }
}

/// The endpoint's routes under /api/ (see `serve --help`). Hummingbird runs the
/// handlers off the event loop; each hops onto the endpoint's loop, where the
/// state lives.
public struct AdminAPI {
    let state: EndpointState
    let hub: StreampointHub

    public init(state: EndpointState, hub: StreampointHub) {
        self.state = state
        self.hub = hub
    }

    public func addRoutes(to router: Router<APIRequestContext>) {
        on(router, "/api/agents", .get) { request, _ in
            // include=stats: the console's cameras list filters by bytes and errors.
            let include = request.uri.queryParameters.get("include")
            guard include == nil || include == "stats" else { return .error(.badRequest, "include may only be stats") }
            return try await fresh {
                .json(state.registry.sortedAgents.compactMap { agent -> AgentView? in
                    guard var view = fullView(of: agent.id) else { return nil }
                    if include != nil {
                        view.stats = state.statsView(of: agent.id)
                        view.includeStats = true
                    }
                    return view
                })
            }
        }
        on(router, "/api/agents/:id", .get) { _, context in
            let id = try context.parameters.require("id")
            return try await fresh {
                guard var view = fullView(of: id) else { return unknownAgent(id) }
                view.stats = state.statsView(of: id)
                view.includeStats = true
                return .json(view)
            }
        }
        router.post("/api/units") { request, _ in try await importUnits(request) }
        on(router, "/api/units", .get, servedElsewhere: [.post]) { _, _ in
            try await fresh {
                .json(state.registry.sortedUnits.map { unit in
                    UnitView(serial: unit.serial, agentID: unit.agentID, model: unit.model, mac: unit.mac,
                             state: unit.state.rawValue, activations: unit.activations, lastActivation: unit.lastActivation,
                             cloneSuspected: unit.cloneSuspected, online: state.isOnline(unit.agentID),
                             revoked: state.registry.revocation(of: unit))
                })
            }
        }
        on(router, "/api/streampoints", .get) { _, _ in
            .json(StreampointView.list(configured: state.settings.streampoints, connected: hub.connections))
        }
        on(router, "/api/agents/:id/streampoint", .post) { request, context in
            let id = try context.parameters.require("id")
            let body = try await Self.body(of: request)
            return try await onLoop { assign(agentID: id, body: body) }
        }
        on(router, "/api/agents/:id/revoke", .post) { request, context in
            let id = try context.parameters.require("id")
            let body = try await Self.body(of: request)
            return try await onLoop { revoke(agentID: id, body: body) }
        }
        on(router, "/api/agents/:id/unrevoke", .post) { _, context in
            let id = try context.parameters.require("id")
            return try await onLoop { unrevoke(agentID: id) }
        }
        for (name, awaiting) in Self.commands {
            on(router, RouterPath(stringLiteral: "/api/agents/:id/\(name)"), .post) { request, context in
                let id = try context.parameters.require("id")
                let body = try await Self.body(of: request)
                return try await onLoop { command(awaiting, agentID: id, body: body) }
            }
        }
    }

    /// Registers `handler` for `method` and a JSON 405 naming it for the others.
    /// `servedElsewhere`: methods of the same path registered by other code.
    private func on(_ router: Router<APIRequestContext>, _ path: RouterPath, _ method: HTTPRequest.Method,
                    servedElsewhere: [HTTPRequest.Method] = [],
                    _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> AdminResponse) {
        router.on(path, method: method) { request, context in try await handler(request, context).response }
        let allowed = ([method] + servedElsewhere).map(\.rawValue).joined(separator: " or ")
        for other in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where other != method && !servedElsewhere.contains(other) {
            router.on(path, method: other) { request, _ in
                APIResponse.error(.methodNotAllowed, "method \(request.method.rawValue) not allowed on \(shown(request.uri.path)); use \(allowed)")
            }
        }
    }

    static func body(of request: Request) async throws -> Data {
        var request = request
        let buffer = try await request.collectBody(upTo: APIServer.maxBody)
        return Data(buffer.readableBytesView)
    }

    /// Runs on the endpoint's event loop, where the state lives.
    private func onLoop(_ body: @escaping @Sendable () -> EventLoopFuture<AdminResponse>) async throws -> AdminResponse {
        try await state.eventLoop.flatSubmit(body).get()
    }

    /// Views of the registry show what it holds now, changes made by a CLI
    /// command or another endpoint included; with the registry away, the last copy.
    private func fresh(_ view: @escaping @Sendable () -> AdminResponse) async throws -> AdminResponse {
        try await onLoop {
            state.refreshRegistry().map { view() }.recover { _ in view() }
        }
    }

    private static let commands: [String: AwaitedAnswer] = [
        "disconnect": .commandResult(.disconnect), "reboot": .commandResult(.reboot),
        "reset": .commandResult(.reset), "stats": .stats,
    ]

    /// Longest `disconnect` an operator may ask for (the agent clamps to the same).
    static let maxDisconnectSeconds = 3600

    private func command(_ awaiting: AwaitedAnswer, agentID: String, body: Data) -> EventLoopFuture<AdminResponse> {
        let loop = state.eventLoop
        var argument: UInt32 = 0
        if case .commandResult(.disconnect) = awaiting, !body.isEmpty {
            guard let wanted = try? JSONDecoder().decode(DisconnectRequest.self, from: body) else {
                return loop.makeSucceededFuture(.error(.badRequest, "body must be empty or JSON like {\"seconds\":30}"))
            }
            let seconds = wanted.seconds ?? 0
            guard (0...Self.maxDisconnectSeconds).contains(seconds) else {
                return loop.makeSucceededFuture(.error(.badRequest, "seconds must be 0 to \(Self.maxDisconnectSeconds) (0: the agent's short default)"))
            }
            argument = UInt32(seconds)
        }
        let name = awaiting.name
        switch state.send(awaiting, to: agentID, argument: argument) {
        case .failure(.unknownAgent):
            return loop.makeSucceededFuture(unknownAgent(agentID))
        case .failure(.offline):
            return loop.makeSucceededFuture(.json(CommandView(agent: agentID, command: name, ok: false,
                                                              message: "agent \(agentID) is offline"), status: .conflict))
        case .failure(.busy):
            return loop.makeSucceededFuture(.json(CommandView(agent: agentID, command: name, ok: false,
                                                              message: "too many commands wait for answers; retry later"),
                                                  status: .serviceUnavailable))
        case .success(let answer):
            return answer.map { answer in
                switch answer {
                case .done(let message):
                    return .json(CommandView(agent: agentID, command: name, ok: true, message: message))
                case .refused(let code, let message):
                    return .json(CommandView(agent: agentID, command: name, ok: false, message: "\(code.name): \(message)"),
                                 status: .badGateway)
                case .stats:
                    return .json(CommandView(agent: agentID, command: name, ok: true, message: "fresh report",
                                             stats: state.statsView(of: agentID)))
                case .noAnswer(let why):
                    return .json(CommandView(agent: agentID, command: name, ok: false, message: why), status: .gatewayTimeout)
                }
            }
        }
    }

    private func assign(agentID: String, body: Data) -> EventLoopFuture<AdminResponse> {
        let loop = state.eventLoop
        guard state.registry[agentID] != nil else { return loop.makeSucceededFuture(unknownAgent(agentID)) }
        guard let wanted = try? JSONDecoder().decode(AssignRequest.self, from: body) else {
            return loop.makeSucceededFuture(.error(.badRequest, "body must be JSON like {\"streampoint\":\"sp2\"} or {\"streampoint\":\"sp2\",\"backup\":\"sp1\"}"))
        }
        return state.assign(agentID: agentID, streampointID: wanted.streampoint, backupID: wanted.backup).map { view -> AdminResponse in
            .json(view)
        }.recover { error -> AdminResponse in
            switch error {
            case EndpointState.AssignmentError.unknownAgent:
                return unknownAgent(agentID)
            case EndpointState.AssignmentError.unknownStreampoint(let id):
                let known = state.settings.streampoints.map(\.id).joined(separator: ", ")
                return .error(.badRequest, "unknown streampoint \(shown(id)); known: \(known)")
            case EndpointState.AssignmentError.backupIsMain:
                return .error(.badRequest, "the backup must differ from the streampoint")
            case EndpointState.AssignmentError.registryUnwritable(let why):
                return .error(.serviceUnavailable, "assignment not saved: \(why)")
            default:
                return .error(.internalServerError, "\(error)")
            }
        }
    }

    private func fullView(of agentID: String) -> AgentView? {
        guard var view = state.view(of: agentID) else { return nil }
        view.revoked = state.registry.revocation(ofAgent: agentID)
        return view
    }

    private func revoke(agentID: String, body: Data) -> EventLoopFuture<AdminResponse> {
        let loop = state.eventLoop
        guard let wanted = try? JSONDecoder().decode(RevokeRequest.self, from: body) else {
            return loop.makeSucceededFuture(.error(.badRequest, "body must be JSON like {\"reason\":\"reported stolen\"}"))
        }
        if let problem = Revocation.validate(reason: wanted.reason) { return loop.makeSucceededFuture(.error(.badRequest, problem)) }
        return state.revoke(agentID: agentID, reason: wanted.reason).map { closed -> AdminResponse in
            .json(RevocationView(id: agentID, revoked: state.registry.revocation(ofAgent: agentID), sessionClosed: closed))
        }.recover { error -> AdminResponse in
            switch error {
            case EndpointState.RevocationError.unknownAgent: return unknownAgent(agentID)
            case EndpointState.RevocationError.registryUnwritable(let why): return .error(.serviceUnavailable, "revocation not saved: \(why)")
            default: return .error(.internalServerError, "\(error)")
            }
        }
    }

    private func unrevoke(agentID: String) -> EventLoopFuture<AdminResponse> {
        state.unrevoke(agentID: agentID).map { () -> AdminResponse in
            .json(RevocationView(id: agentID, revoked: nil, sessionClosed: false))
        }.recover { error -> AdminResponse in
            switch error {
            case EndpointState.RevocationError.unknownAgent: return unknownAgent(agentID)
            case EndpointState.RevocationError.registryUnwritable(let why): return .error(.serviceUnavailable, "not saved: \(why)")
            default: return .error(.internalServerError, "\(error)")
            }
        }
    }

    private func unknownAgent(_ id: String) -> AdminResponse {
        .error(.notFound, "unknown agent \(shown(id))")
    }

    /// Echoes client-supplied text into a response only in bounded form.
    private static func shown(_ text: String) -> String {
        LogText.peer(text)
    }

    private func shown(_ text: String) -> String {
        LogText.peer(text)
    }
}

extension AdminResponse {
    /// The same status and JSON body as a Hummingbird response.
    var response: Response {
        Response(status: HTTPResponse.Status(code: Int(status.code)), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
