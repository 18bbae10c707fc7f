import CamNIO
import CamProtocol

/// A streaming server agents can be sent to (`--streampoint ID=HOST:PORT` or
/// `--streampoint ID=tls://HOST:PORT`). Encoded as is by `GET /streampoints`.
public struct StreampointInfo: Codable, Equatable, Sendable {
    public var id: String
    /// Sent to agents as given: with TLS it is the name they check the certificate against.
    public var host: String
    public var port: Int
    /// The streampoint's agent port speaks TLS (STREAMPOINT_ASSIGN flags bit 0).
    public var tls: Bool

    public static let syntax = "ID=HOST:PORT or ID=tls://HOST:PORT"

    /// Parses `ID=HOST:PORT` (plain) or `ID=tls://HOST:PORT` (TLS).
    public init(argument: String) throws {
        guard let equals = argument.firstIndex(of: "=") else {
            throw ValidationFailure("--streampoint \(argument): expected \(Self.syntax), e.g. sp1=tls://sp1.example.net:7100")
        }
        let id = String(argument[..<equals])
        var address = String(argument[argument.index(after: equals)...])
        guard Identifier.isValid(id) else {
            throw ValidationFailure("--streampoint \(argument): id must be \(Identifier.rule)")
        }
        var tls = false
        if address.hasPrefix("tls://") {
            tls = true
            address.removeFirst("tls://".count)
        } else if let scheme = address.range(of: "://") {
            throw ValidationFailure("--streampoint \(argument): unknown scheme \(address[..<scheme.lowerBound])://; use tls://HOST:PORT for TLS or HOST:PORT for plain TCP")
        }
        guard let hostPort = HostPort(address), (1...65535).contains(hostPort.port) else {
            throw ValidationFailure("--streampoint \(argument): expected HOST:PORT with a port from 1 to 65535 after '\(tls ? "tls://" : "=")'")
        }
        guard hostPort.host.utf8.count <= 255 else {
            throw ValidationFailure("--streampoint \(argument): host must be at most 255 bytes")
        }
        self.id = id
        self.host = hostPort.host
        self.port = hostPort.port
        self.tls = tls
    }

    /// `tls://host:port` or `host:port`, for logs.
    public var address: String { (tls ? "tls://" : "") + HostPort(host: host, port: port).description }

    /// The streampoint after `id` in `list`, wrapping; nil with fewer than two.
    static func following(_ id: String, in list: [StreampointInfo]) -> StreampointInfo? {
        guard list.count >= 2, let index = list.firstIndex(where: { $0.id == id }) else { return nil }
        return list[(index + 1) % list.count]
    }

    /// True when HOST is a numeric IPv4 or IPv6 address rather than a DNS name.
    public var hostIsIPAddress: Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0 == "." || $0.isNumber })
    }
}
