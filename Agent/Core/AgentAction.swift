import CamProtocol

/// The sockets the core asks the runtime to manage.
public enum LinkID: Hashable, Sendable {
    case endpoint
    case streampoint
    /// The camera-side connection of a tunnel.
    case tunnelTarget(UInt32)
    /// The streampoint-side data connection of a tunnel.
    case tunnelData(UInt32)

    public var name: String {
        switch self {
        case .endpoint: return "endpoint"
        case .streampoint: return "streampoint"
        case .tunnelTarget(let id): return "tunnel \(id) target"
        case .tunnelData(let id): return "tunnel \(id) data"
        }
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
    case log(LogLevel, String)
    /// Persist the identity activation produced (state file, atomically).
    case storeIdentity(AgentIdentity)
}
