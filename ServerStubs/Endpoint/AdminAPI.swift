import CamNIO
import Foundation
import NIOHTTP1

/// One agent as the admin API shows it. Absent values are JSON null, not missing keys.
struct AgentView: Encodable, Equatable {
    var id: String
    var online: Bool
    /// The streampoint the agent is (or will be) sent to.
    var streampoint: String
    /// ISO 8601, UTC: last message from the agent, or when its last session ended.
    var lastSeen: String?
    var remoteAddress: String?
    var software: String?
    var buildTarget: String?
    /// Set while the operator has revoked the agent.
    var revoked: Revocation? = nil

    private enum CodingKeys: String, CodingKey {
        case id, online, streampoint, lastSeen, remoteAddress, software, buildTarget, revoked
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(online, forKey: .online)
        try c.encode(streampoint, forKey: .streampoint)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(remoteAddress, forKey: .remoteAddress)
        try c.encode(software, forKey: .software)
        try c.encode(buildTarget, forKey: .buildTarget)
        try c.encode(revoked, forKey: .revoked)
    }
}

/// One factory unit as `GET /units` shows it: no secrets, no verifiers.
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

struct HealthView: Encodable {
    var status = "ok"
}

struct AssignRequest: Decodable {
    var streampoint: String
}

/// Routes of the JSON admin API (see `serve --help`). Runs on the endpoint's event loop.
struct AdminAPI {
    let state: EndpointState

    func route(_ request: AdminRequest) -> AdminResponse {
        state.eventLoop.preconditionInEventLoop()
        var path = request.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)

        switch parts.count {
        case 1 where parts[0] == "health":
            guard request.method == .GET else { return methodNotAllowed(request, "GET") }
            return .json(HealthView())

        case 1 where parts[0] == "agents":
            guard request.method == .GET else { return methodNotAllowed(request, "GET") }
            state.refreshRegistryIfChanged()
            return .json(state.registry.sortedAgents.compactMap { fullView(of: $0.id) })

        case 1 where parts[0] == "units":
            guard request.method == .GET else { return methodNotAllowed(request, "GET") }
            state.refreshRegistryIfChanged()
            return .json(state.registry.sortedUnits.map { unit in
                UnitView(serial: unit.serial, agentID: unit.agentID, model: unit.model, mac: unit.mac,
                         state: unit.state.rawValue, activations: unit.activations, lastActivation: unit.lastActivation,
                         cloneSuspected: unit.cloneSuspected, online: state.isOnline(unit.agentID),
                         revoked: state.registry.revocation(of: unit))
            })

        case 1 where parts[0] == "streampoints":
            guard request.method == .GET else { return methodNotAllowed(request, "GET") }
            return .json(state.settings.streampoints)

        case 2 where parts[0] == "agents":
            guard request.method == .GET else { return methodNotAllowed(request, "GET") }
            state.refreshRegistryIfChanged()
            guard let view = fullView(of: parts[1]) else { return unknownAgent(parts[1]) }
            return .json(view)

        case 3 where parts[0] == "agents" && parts[2] == "streampoint":
            guard request.method == .POST else { return methodNotAllowed(request, "POST") }
            return assign(agentID: parts[1], body: request.body)

        case 3 where parts[0] == "agents" && parts[2] == "revoke":
            guard request.method == .POST else { return methodNotAllowed(request, "POST") }
            return revoke(agentID: parts[1], body: request.body)

        case 3 where parts[0] == "agents" && parts[2] == "unrevoke":
            guard request.method == .POST else { return methodNotAllowed(request, "POST") }
            return unrevoke(agentID: parts[1])

        default:
            return .error(.notFound, "no such resource: \(request.method.rawValue) \(shown(request.path)); see camagent-endpoint serve --help")
        }
    }

    private func assign(agentID: String, body: Data) -> AdminResponse {
        state.refreshRegistryIfChanged()
        guard state.registry[agentID] != nil else { return unknownAgent(agentID) }
        guard let wanted = try? JSONDecoder().decode(AssignRequest.self, from: body) else {
            return .error(.badRequest, "body must be JSON like {\"streampoint\":\"sp2\"}")
        }
        do {
            return .json(try state.assign(agentID: agentID, streampointID: wanted.streampoint))
        } catch EndpointState.AssignmentError.unknownAgent {
            return unknownAgent(agentID)
        } catch EndpointState.AssignmentError.unknownStreampoint {
            let known = state.settings.streampoints.map(\.id).joined(separator: ", ")
            return .error(.badRequest, "unknown streampoint \(shown(wanted.streampoint)); known: \(known)")
        } catch EndpointState.AssignmentError.registryUnwritable(let why) {
            return .error(.internalServerError, "assignment not saved: \(why)")
        } catch {
            return .error(.internalServerError, "\(error)")
        }
    }

    private func fullView(of agentID: String) -> AgentView? {
        guard var view = state.view(of: agentID) else { return nil }
        view.revoked = state.registry.revocation(ofAgent: agentID)
        return view
    }

    private func revoke(agentID: String, body: Data) -> AdminResponse {
        guard let wanted = try? JSONDecoder().decode(RevokeRequest.self, from: body) else {
            return .error(.badRequest, "body must be JSON like {\"reason\":\"reported stolen\"}")
        }
        if let problem = Revocation.validate(reason: wanted.reason) { return .error(.badRequest, problem) }
        do {
            let closed = try state.revoke(agentID: agentID, reason: wanted.reason)
            return .json(RevocationView(id: agentID, revoked: state.registry.revocation(ofAgent: agentID), sessionClosed: closed))
        } catch EndpointState.RevocationError.unknownAgent {
            return unknownAgent(agentID)
        } catch EndpointState.RevocationError.registryUnwritable(let why) {
            return .error(.internalServerError, "revocation not saved: \(why)")
        } catch {
            return .error(.internalServerError, "\(error)")
        }
    }

    private func unrevoke(agentID: String) -> AdminResponse {
        do {
            try state.unrevoke(agentID: agentID)
            return .json(RevocationView(id: agentID, revoked: nil, sessionClosed: false))
        } catch EndpointState.RevocationError.unknownAgent {
            return unknownAgent(agentID)
        } catch EndpointState.RevocationError.registryUnwritable(let why) {
            return .error(.internalServerError, "not saved: \(why)")
        } catch {
            return .error(.internalServerError, "\(error)")
        }
    }

    private func unknownAgent(_ id: String) -> AdminResponse {
        .error(.notFound, "unknown agent \(shown(id))")
    }

    private func methodNotAllowed(_ request: AdminRequest, _ allowed: String) -> AdminResponse {
        .error(.methodNotAllowed, "method \(request.method.rawValue) not allowed on \(shown(request.path)); use \(allowed)")
    }

    /// Echoes client-supplied text into a response only in bounded form.
    private func shown(_ text: String) -> String {
        text.count > 100 ? String(text.prefix(100)) + "…" : text
    }
}
