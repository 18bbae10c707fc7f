/// Values fixed by docs/PROTOCOL.md. Changing one is a protocol change.
/// The implementation's own choices (timeouts, limits, buffer sizes) are CamCore's Tunables.
public enum ProtocolConstants {
    public static let version: UInt8 = 1
    public static let helloMagic: [UInt8] = [0x43, 0x41, 0x4D, 0x41]  // "CAMA"
    public static let frameHeaderSize = 4
    /// Hard cap on a frame payload; larger lengths are rejected before any allocation.
    public static let maxPayload = 8192
    public static let nonceSize = 32
    public static let proofSize = 32
    public static let bindTokenSize = 16
    public static let ticketNonceSize = 16
    public static let upgradePath = "/camagent/v1"
    public static let upgradeToken = "camagent/1"
    /// Request and response headers of the HTTP upgrade may not exceed this.
    public static let maxUpgradeHeaderBytes = 4096
    public static let maxStringBytes = 1024
    public static let maxTargets = 16
    /// Endpoints in a CONFIG_PUSH list.
    public static let maxEndpoints = 8
    /// Counters in one AGENT_STATS.
    public static let maxCounters = 32
}

/// Why a peer closed the link. Sent in ERROR frames; stable numbers.
public enum ErrorCode: UInt16, Sendable {
    case unsupportedVersion = 1
    case malformedFrame = 2
    case frameTooLarge = 3
    case unexpectedMessage = 4
    case authenticationFailed = 5
    case invalidTicket = 6
    case invalidBind = 7
    case internalError = 8
    case timeout = 9
    case rateLimited = 10
    case shuttingDown = 11
    /// The operator revoked this agent; the text carries the operator's reason.
    case revoked = 12
    case targetNotAllowed = 13
    case targetUnreachable = 14
    /// The serial is active on another unit right now (a cloned unit, or a reset one racing its old session).
    case identityConflict = 15
    case unknown = 0xFFFF

    public init(wire: UInt16) { self = ErrorCode(rawValue: wire) ?? .unknown }

    public var name: String {
        switch self {
        case .unsupportedVersion: return "unsupported-version"
        case .malformedFrame: return "malformed-frame"
        case .frameTooLarge: return "frame-too-large"
        case .unexpectedMessage: return "unexpected-message"
        case .authenticationFailed: return "authentication-failed"
        case .invalidTicket: return "invalid-ticket"
        case .invalidBind: return "invalid-bind"
        case .internalError: return "internal-error"
        case .timeout: return "timeout"
        case .rateLimited: return "rate-limited"
        case .shuttingDown: return "shutting-down"
        case .revoked: return "revoked"
        case .identityConflict: return "identity-conflict"
        case .targetNotAllowed: return "target-not-allowed"
        case .targetUnreachable: return "target-unreachable"
        case .unknown: return "unknown"
        }
    }
}

/// Which channel a connection carries; announced in HELLO.
public enum LinkRole: UInt8, Sendable {
    case endpointControl = 1
    case streampointControl = 2
    case tunnelData = 3

    public var name: String {
        switch self {
        case .endpointControl: return "endpoint-control"
        case .streampointControl: return "streampoint-control"
        case .tunnelData: return "tunnel-data"
        }
    }
}
