import CamProtocol

/// A viewer token (docs/PROTOCOL.md §16): the endpoint signs it for one
/// camera target; the streampoint checks it offline with the keys it got down
/// the streampoint channel. Pure (time is passed in), no Foundation, so both
/// servers and any test share this one codec.
public struct ViewerToken: Equatable, Sendable {
    public static let formatVersion: UInt8 = 1
    public static let macSize = 32
    /// Longest token text the verifier reads at all; real ones are about 100 characters.
    public static let maxTextLength = 512
    /// Longest viewer label, in UTF-8 bytes.
    public static let maxLabelBytes = 64
    /// version + key id: what is read before the MAC is checked.
    static let headerSize = 5

    public var keyID: UInt32
    /// Unix seconds, informational (the streampoint does not judge it).
    public var issuedAt: UInt64
    /// Unix seconds; refused at and after this instant.
    public var expiresAt: UInt64
    public var agentID: String
    public var target: String
    /// Who the operator issued it for, e.g. "front desk"; may be empty.
    public var label: String

    public init(keyID: UInt32, issuedAt: UInt64, expiresAt: UInt64, agentID: String, target: String, label: String = "") {
        self.keyID = keyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.agentID = agentID
        self.target = target
        self.label = label
    }

    /// The token text, base64url without padding: safe as `?token=` in any URL.
    public func signed(secret: [UInt8]) -> String {
        var bytes = body()
        bytes.append(contentsOf: Self.mac(secret: secret, body: bytes))
        return Base64URL.encode(bytes)
    }

    /// Why a token was refused; `description` is the text a 401/403 may carry
    /// (it names no key material and never echoes the token).
    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        case missing
        case malformed
        case unknownKey(UInt32)
        case badSignature
        case wrongAgent
        case wrongTarget
        case expired

        public var description: String {
            switch self {
            case .missing: return "viewer token missing"
            case .malformed: return "viewer token is malformed"
            case .unknownKey(let id): return "viewer token signed with unknown key \(id)"
            case .badSignature: return "viewer token signature does not verify"
            case .wrongAgent: return "viewer token was issued for another camera"
            case .wrongTarget: return "viewer token was issued for another target"
            case .expired: return "viewer token has expired"
            }
        }
    }

    /// Checks in the order PROTOCOL §16.3 gives: only the version and key id
    /// are read before the MAC verifies, so no other field of a forged token
    /// is ever trusted. `secret(for:)` answers the key for an id, nil if unknown.
    public static func verify(_ text: String?, agentID: String, target: String, now: UInt64,
                              secret: (UInt32) -> [UInt8]?) -> Result<ViewerToken, Refusal> {
        guard let text, !text.isEmpty else { return .failure(.missing) }
        guard text.utf8.count <= maxTextLength, let bytes = Base64URL.decode(text),
              bytes.count > headerSize + macSize, bytes[0] == formatVersion
        else { return .failure(.malformed) }
        let keyID = UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4])
        guard let key = secret(keyID) else { return .failure(.unknownKey(keyID)) }
        let body = Array(bytes[0..<(bytes.count - macSize)])
        let mac = Array(bytes[(bytes.count - macSize)...])
        guard constantTimeEqual(mac, Self.mac(secret: key, body: body)) else { return .failure(.badSignature) }
        guard let token = decodeBody(body) else { return .failure(.malformed) }
        guard token.agentID == agentID else { return .failure(.wrongAgent) }
        guard token.target == target else { return .failure(.wrongTarget) }
        guard now < token.expiresAt else { return .failure(.expired) }
        return .success(token)
    }

    private static func decodeBody(_ body: [UInt8]) -> ViewerToken? {
        var r = ByteReader(body, context: "viewer token")
        guard let version = try? r.u8(), version == formatVersion,
              let keyID = try? r.u32(), let issuedAt = try? r.u64(), let expiresAt = try? r.u64(),
              let agentID = try? r.string(), let target = try? r.string(), let label = try? r.string(),
              r.remaining == 0,
              Identifier.isValid(agentID), Identifier.isValid(target), isValidLabel(label)
        else { return nil }
        return ViewerToken(keyID: keyID, issuedAt: issuedAt, expiresAt: expiresAt, agentID: agentID, target: target, label: label)
    }

    /// The token a viewer request presents: the `token` parameter of the URL
    /// query (`query` without the `?`), else `Authorization: Bearer <token>`.
    /// nil when it has neither. The value is taken as is: base64url needs no
    /// percent-encoding, and a percent-encoded token is refused as malformed.
    public static func presented(query: Substring?, authorization: String?) -> String? {
        if let query {
            for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
                guard parameter.hasPrefix("token=") else { continue }
                return String(parameter.dropFirst("token=".count))
            }
        }
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].trimmingSpaces()
            }
        }
        return nil
    }

    /// At most 64 UTF-8 bytes, no control characters: it is shown to operators.
    public static func isValidLabel(_ label: String) -> Bool {
        label.utf8.count <= maxLabelBytes && !label.utf8.contains { $0 < 0x20 || $0 == 0x7F }
    }

    private func body() -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.u8(Self.formatVersion)
        w.u32(keyID)
        w.u64(issuedAt)
        w.u64(expiresAt)
        w.string(agentID)
        w.string(target)
        w.string(label)
        return w.bytes
    }

    private static func mac(secret: [UInt8], body: [UInt8]) -> [UInt8] {
        var message = Array("camagent viewer token v1".utf8)
        message.append(0)
        message.append(contentsOf: body)
        return hmacSHA256(key: secret, message: message)
    }
}

/// One signing key: the endpoint keeps the current and the previous one
/// (rotation), and sends both down the streampoint channel.
public struct ViewerTokenKey: Equatable, Sendable {
    public static let secretSize = 32
    public var id: UInt32
    public var secret: [UInt8]

    public init(id: UInt32, secret: [UInt8]) {
        self.id = id
        self.secret = secret
    }
}

private extension Substring {
    func trimmingSpaces() -> String {
        var text = self[...]
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
