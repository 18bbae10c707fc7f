import CamProtocol

/// The two streampoint control-link slots. A switch dials the new streampoint
/// in the idle slot while the old one keeps serving (make-before-break).
public enum StreampointSlot: Int, Sendable {
    case a = 0
    case b = 1

    public var other: StreampointSlot { self == .a ? .b : .a }
}

/// The sockets the core asks the runtime to manage.
public enum LinkID: Hashable, Sendable {
    case endpoint
    /// A short check of whether the main endpoint answers again, made while
    /// the agent is on a backup endpoint.
    case endpointProbe
    case streampoint(StreampointSlot)
    /// The camera-side connection of a tunnel.
    case tunnelTarget(UInt32)
    /// The streampoint-side data connection of a tunnel.
    case tunnelData(UInt32)

    public var name: String {
        switch self {
        case .endpoint: return "endpoint"
        case .endpointProbe: return "main-endpoint check"
        case .streampoint(let slot): return slot == .a ? "streampoint" : "streampoint (new)"
        case .tunnelTarget(let id): return "tunnel \(id) target"
        case .tunnelData(let id): return "tunnel \(id) data"
        }
    }
}

/// Addresses of a connected socket, as the runtime saw them.
public struct SocketAddresses: Equatable, Sendable {
    public var local: String
    public var peer: String

    public init(local: String, peer: String) {
        self.local = local
        self.peer = peer
    }
}

/// What the core asks the runtime to do. The runtime reports back through
/// AgentCore's event methods; the core itself never touches a socket or a clock.
public enum AgentAction: Equatable, Sendable {
    /// Open a TCP connection; answer with `connected` or `connectFailed`.
    case connect(LinkID, ServerAddress)
    case send(LinkID, [UInt8])
    /// Close the socket. No `closed` event follows for a close the core asked for.
    case close(LinkID)
    /// Both sides of the tunnel are ready: move bytes between them until either
    /// closes, then report `tunnelFinished`. `toTarget` is data that arrived on
    /// the data link with the handshake and belongs to the camera.
    case splice(tunnelID: UInt32, toTarget: [UInt8])
    /// Stop a tunnel whatever its phase; a splicing one reports `tunnelFinished`.
    case closeTunnel(UInt32)
    case log(LogLevel, String)
    /// Persist the state (state file, atomically): after activation, a reset,
    /// a pushed endpoint list, or an endpoint answering on a new address.
    case storeState(AgentState)
    /// Run the config's reboot command (no shell), for the endpoint's `reboot`.
    case runCommand(String)
}
