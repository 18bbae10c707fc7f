import CamProtocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who one authentication or activation attempt is about, and where it came from.
/// Failed attempts count against both the id and the source address.
struct AttemptSubject: Hashable, CustomStringConvertible {
    enum Kind: String { case agent, serial }

    var kind: Kind
    /// The agent id or serial as the peer sent it, if it is a valid identifier;
    /// every invalid one shares the key "(invalid)" so peer text cannot grow the tables.
    var id: String
    /// The address key of the peer (`FailureLimiter.addressKey(host:)`).
    var address: String

    init(kind: Kind, id: String, host: String) {
        self.kind = kind
        self.id = Identifier.isValid(id) ? id : "(invalid)"
        self.address = FailureLimiter.addressKey(host: host)
    }

    /// Key of the per-id table: agent ids and serials are separate namespaces.
    var idKey: String { "\(kind.rawValue):\(id)" }

    /// For logs: `agent cam-1` or `unit XM0001`.
    var description: String { (kind == .agent ? "agent " : "unit ") + id }
}

/// Rate limiting of failed attempts (wrong proofs, unknown agent ids or serials),
/// per agent id or serial and per source address (docs/PROTOCOL.md §5.8).
///
/// Pure: time is a parameter (monotonic seconds), so tests drive it with a manual
/// clock. Memory is bounded: each table holds at most `capacity` entries; when a
/// new key arrives at a full table, expired entries go first, then the least
/// recently touched eighth. So a flood of attempts with fresh ids or addresses
/// costs O(capacity) memory, never more.
///
/// The good agent is not locked out for long:
/// - a per-id block ends `penalty` seconds after it started, and refused attempts
///   do not extend it;
/// - a per-id block does not apply to the address that last authenticated that
///   id successfully (a bounded table too), so an attacker elsewhere hammering a
///   known agent's id does not lock that agent out at all;
/// - the per-address limit is higher (a NAT may hide several cameras) and only
///   blocks that address.
public struct FailureLimiter {
    typealias Rule = FailureWindows.Rule

    struct Configuration: Equatable {
        var perID = Rule(maxFailures: 10, window: 10, penalty: 15)
        var perAddress = Rule(maxFailures: 30, window: 10, penalty: 15)
        /// Maximum entries of each table (per-id, per-address, trusted addresses).
        var capacity = 4096
    }

    /// Why an attempt is refused without looking at its proof.
    enum Block: Equatable {
        case address
        case id
    }

    let configuration: Configuration
    private(set) var byID: FailureWindows
    private(set) var byAddress: FailureWindows
    /// id key → (address key, last success): the address exempt from that id's block.
    private(set) var trusted: [String: (address: String, touched: Double)] = [:]

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        byID = FailureWindows(rule: configuration.perID, capacity: configuration.capacity)
        byAddress = FailureWindows(rule: configuration.perAddress, capacity: configuration.capacity)
    }

    var tableSizes: (ids: Int, addresses: Int, trusted: Int) { (byID.count, byAddress.count, trusted.count) }

    /// nil if the attempt may go ahead; otherwise what blocks it.
    func block(for subject: AttemptSubject, now: Double) -> Block? {
        if byAddress.isBlocked(subject.address, now: now) { return .address }
        if byID.isBlocked(subject.idKey, now: now), trusted[subject.idKey]?.address != subject.address { return .id }
        return nil
    }

    /// Seconds until `subject` may try again (0 if it may now); for logs.
    func retryAfter(_ subject: AttemptSubject, now: Double) -> Double {
        max(0, byAddress.blockedUntil(subject.address) - now, byID.blockedUntil(subject.idKey) - now)
    }

    mutating func recordFailure(_ subject: AttemptSubject, now: Double) {
        byID.recordFailure(subject.idKey, now: now)
        byAddress.recordFailure(subject.address, now: now)
    }

    /// A correct proof: forget the id's failures and trust this address for it.
    /// The address's own failures stay (it may be probing other ids).
    mutating func recordSuccess(_ subject: AttemptSubject, now: Double) {
        byID.forget(subject.idKey)
        if trusted[subject.idKey] == nil && trusted.count >= configuration.capacity {
            FailureWindows.evictOldest(&trusted, capacity: configuration.capacity, touched: { $0.touched })
        }
        trusted[subject.idKey] = (subject.address, now)
    }

    /// The per-address key of a peer: an IPv4 address as is (also when written as
    /// IPv4-mapped IPv6), an IPv6 address by its /64 prefix, since one host
    /// usually holds a whole /64 and could otherwise rotate through it.
    public static func addressKey(host: String) -> String {
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return host }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return "\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])"
        }
        var groups: [String] = []
        for i in stride(from: 0, to: 8, by: 2) {
            groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16))
        }
        return groups.joined(separator: ":") + "::/64"
    }
}
