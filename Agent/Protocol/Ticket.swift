/// A streampoint admission ticket: the endpoint signs it with a key shared only
/// with its streampoints, which check it offline (docs/PROTOCOL.md §6). The agent
/// carries it without reading it.
public struct Ticket: Equatable, Sendable {
    public static let formatVersion: UInt8 = 1
    public static let macSize = 32

    public var agentID: String
    public var streampointID: String
    /// Unix seconds after which the ticket is refused.
    public var expiresAt: UInt64
    public var nonce: [UInt8]

    public init(agentID: String, streampointID: String, expiresAt: UInt64, nonce: [UInt8]) {
        self.agentID = agentID
        self.streampointID = streampointID
        self.expiresAt = expiresAt
        self.nonce = nonce
    }

    public func signed(key: [UInt8]) -> [UInt8] {
        var body = body()
        body.append(contentsOf: Ticket.mac(key: key, body: body))
        return body
    }

    public enum Rejection: Error, Equatable, Sendable {
        case malformed
        case badSignature
        case expired
        case wrongStreampoint(String)

        public var description: String {
            switch self {
            case .malformed: return "ticket is malformed"
            case .badSignature: return "ticket signature does not verify"
            case .expired: return "ticket has expired"
            case .wrongStreampoint(let id): return "ticket was issued for streampoint \(id)"
            }
        }
    }

    /// Verifies the signature first, so no field of a forged ticket is trusted.
    public static func verify(_ bytes: [UInt8], key: [UInt8], streampointID: String, now: UInt64) throws(Rejection) -> Ticket {
        guard bytes.count > macSize else { throw .malformed }
        let body = Array(bytes[0..<(bytes.count - macSize)])
        let mac = Array(bytes[(bytes.count - macSize)...])
        guard constantTimeEqual(mac, Ticket.mac(key: key, body: body)) else { throw .badSignature }
        guard let ticket = try? decodeBody(body) else { throw .malformed }
        guard ticket.streampointID == streampointID else { throw .wrongStreampoint(ticket.streampointID) }
        guard now < ticket.expiresAt else { throw .expired }
        return ticket
    }

    private static func decodeBody(_ body: [UInt8]) throws(ProtocolError) -> Ticket? {
        var r = ByteReader(body, context: "ticket")
        guard try r.u8() == formatVersion else { return nil }
        let agentID = try r.string()
        let streampoint = try r.string()
        let expiry = try r.u64()
        let nonce = try r.raw(ProtocolConstants.ticketNonceSize)
        return Ticket(agentID: agentID, streampointID: streampoint, expiresAt: expiry, nonce: nonce)
    }

    private func body() -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.u8(Ticket.formatVersion)
        w.string(agentID)
        w.string(streampointID)
        w.u64(expiresAt)
        w.raw(nonce)
        return w.bytes
    }

    private static func mac(key: [UInt8], body: [UInt8]) -> [UInt8] {
        var message = Array("camagent ticket v1".utf8)
        message.append(0)
        message.append(contentsOf: body)
        return hmacSHA256(key: key, message: message)
    }
}
