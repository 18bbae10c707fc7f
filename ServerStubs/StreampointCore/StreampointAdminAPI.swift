import CamNIO
import Foundation
import NIOHTTP1
import ServerMetrics

/// JSON admin API, routed on the event loop (the registry is only touched there).
///
///     GET /health        {status, streampoint, agents, tunnels, maxTunnels, startedAt}
///     GET /agents        [{id, remoteAddress, connectedSince, targets:[{name, host, port, viewerPort, url}]}]
///     GET /agents/<id>   one agent, 404 if unknown
///     GET /tunnels       [{id, agent, target, viewer, state, bytesToViewer, bytesFromViewer, openedAt}]
///     GET /metrics       Prometheus text (docs/METRICS.md)
public enum StreampointAdminAPI {
    struct Health: Encodable {
        var status = "ok"
        var streampoint: String
        var agents: Int
        var tunnels: Int
        var maxTunnels: Int
        var startedAt: Date
    }

    struct TargetInfo: Encodable {
        var name: String
        var host: String
        var port: Int
        var viewerPort: Int?
        var url: String?
    }

    struct AgentInfo: Encodable {
        var id: String
        var remoteAddress: String
        var connectedSince: Date
        var targets: [TargetInfo]
    }

    struct TunnelInfo: Encodable {
        var id: UInt32
        var agent: String
        var target: String
        var viewer: String
        var state: String
        var bytesToViewer: UInt64
        var bytesFromViewer: UInt64
        var openedAt: Date
    }

    public static func route(_ request: AdminRequest, registry: StreampointRegistry) -> AdminResponse {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let known = parts == ["health"] || parts == ["agents"] || parts == ["tunnels"] || parts == ["metrics"]
            || (parts.count == 2 && parts[0] == "agents")
        guard known else { return .error(.notFound, "no such route: \(request.path)") }
        guard request.method == .GET else {
            return .error(.methodNotAllowed, "\(request.method) is not supported on \(request.path); use GET")
        }
        if parts == ["metrics"] { return .text(ServerMetrics.exposition(), contentType: ServerMetrics.contentType) }
        switch parts.count == 2 ? "agents/" : parts[0] {
        case "health":
            return .json(Health(streampoint: registry.config.streampointID,
                                agents: registry.sessions.count,
                                tunnels: registry.tunnels.count,
                                maxTunnels: registry.config.maxTunnels,
                                startedAt: registry.startedAt))
        case "agents":
            return .json(registry.sessions.values.sorted { $0.agentID < $1.agentID }.map(agentInfo))
        case "agents/":
            let id = parts[1].removingPercentEncoding ?? parts[1]
            guard let session = registry.sessions[id] else { return .error(.notFound, "no agent \(id) is registered") }
            return .json(agentInfo(session))
        default:
            return .json(registry.tunnels.values.sorted { $0.id < $1.id }.map(tunnelInfo))
        }
    }

    private static func agentInfo(_ session: AgentSession) -> AgentInfo {
        AgentInfo(id: session.agentID, remoteAddress: session.remoteAddress, connectedSince: session.connectedSince,
                  targets: session.targets.map {
                      TargetInfo(name: $0.target.name, host: $0.target.host, port: Int($0.target.port),
                                 viewerPort: $0.viewerPort, url: $0.url)
                  })
    }

    private static func tunnelInfo(_ tunnel: Tunnel) -> TunnelInfo {
        TunnelInfo(id: tunnel.id, agent: tunnel.agentID, target: tunnel.target.name, viewer: tunnel.viewerAddress,
                   state: tunnel.state.rawValue, bytesToViewer: tunnel.bytesToViewer,
                   bytesFromViewer: tunnel.bytesFromViewer, openedAt: tunnel.openedAt)
    }
}
