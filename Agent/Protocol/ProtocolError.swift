/// A violation of the wire protocol by the peer. Every case maps to an ERROR code
/// the receiver sends before closing.
public enum ProtocolError: Error, Equatable, Sendable {
    case frameTooLarge(length: Int)
    case nonZeroFlags(UInt8)
    case unknownMessageType(UInt8)
    case truncated(message: String)
    case stringTooLong
    case invalidUTF8
    /// A host field that is not a DNS name or an unbracketed IP address (HostSyntax).
    case invalidHost(message: String)
    case badMagic
    case malformedUpgrade(String)
    case upgradeHeadersTooLarge
    case upgradeRejected(status: Int)
    case tooManyTargets
    case tooManyEntries(String)
    case unknownRole(UInt8)
    case unsupportedVersion(UInt8)

    public var code: ErrorCode {
        switch self {
        case .frameTooLarge, .upgradeHeadersTooLarge: return .frameTooLarge
        case .unsupportedVersion: return .unsupportedVersion
        default: return .malformedFrame
        }
    }

    public var description: String {
        switch self {
        case .frameTooLarge(let length):
            return "frame payload of \(length) bytes exceeds the \(ProtocolConstants.maxPayload)-byte maximum"
        case .nonZeroFlags(let flags): return "frame flags \(flags) must be zero in version 1"
        case .unknownMessageType(let type): return "unknown message type \(type)"
        case .truncated(let message): return "truncated \(message) payload"
        case .stringTooLong: return "string field longer than \(ProtocolConstants.maxStringBytes) bytes"
        case .invalidUTF8: return "string field is not valid UTF-8"
        case .invalidHost(let message):
            return "host field in \(message) is not a host name or an unbracketed IP address"
        case .badMagic: return "HELLO magic is not CAMA"
        case .malformedUpgrade(let why): return "malformed HTTP upgrade: \(why)"
        case .upgradeHeadersTooLarge:
            return "HTTP upgrade headers exceed \(ProtocolConstants.maxUpgradeHeaderBytes) bytes"
        case .upgradeRejected(let status): return "server answered HTTP \(status) instead of 101"
        case .tooManyTargets: return "more than \(ProtocolConstants.maxTargets) targets"
        case .tooManyEntries(let what): return "too many \(what)"
        case .unknownRole(let role): return "HELLO names unknown link role \(role)"
        case .unsupportedVersion(let version):
            return "peer speaks protocol version \(version); this side speaks version \(ProtocolConstants.version)"
        }
    }
}
