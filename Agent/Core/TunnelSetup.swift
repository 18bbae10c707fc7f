import CamProtocol

/// One tunnel from TUNNEL_OPEN until its bytes start flowing: connect to the
/// local target, then open a data link to the streampoint and bind it. Once
/// splicing, the runtime owns the two sockets and reports when they are done.
struct Tunnel: Sendable {
    enum Phase: Equatable, Sendable {
        case connectingTarget
        case connectingData
        case binding
        case splicing
    }

    let id: UInt32
    let target: ServerAddress
    let streampoint: ServerAddress
    let bindToken: [UInt8]
    var phase = Phase.connectingTarget
    /// Setup must finish by then; a splicing tunnel has no deadline.
    let setupDeadline: Int64
    var reader = LinkReader(rawAfterHelloAck: true)
}

/// Connection counters reported to the operator.
public struct AgentStats: Equatable, Sendable {
    public var tunnelsRequested: UInt64 = 0
    public var tunnelsEstablished: UInt64 = 0
    public var tunnelsFailed: UInt64 = 0
    /// Requests for a host or port outside the config's targets.
    public var tunnelsRefused: UInt64 = 0
    public var bytesToStreampoint: UInt64 = 0
    public var bytesFromStreampoint: UInt64 = 0
    public var protocolErrors: UInt64 = 0

    public init() {}
}
