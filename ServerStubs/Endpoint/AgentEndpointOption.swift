import CamNIO
import CamProtocol
import EndpointCore

/// One `--agent-endpoint URL`: an endpoint agents should use, pushed to them in
/// CONFIG_PUSH. The same form as the agent's `endpoint =` line:
/// `https://HOST[:PORT][/]` (TLS, port 443 by default) or `http://HOST[:PORT][/]`
/// (plain TCP, port 80 by default; agents accept it only with allow_plaintext).
enum AgentEndpointOption {
    static let syntax = "https://HOST:PORT or http://HOST:PORT"

    static func parse(_ argument: String) throws -> EndpointEntry {
        func fail(_ problem: String) -> ValidationFailure {
            ValidationFailure("--agent-endpoint \(argument): \(problem)")
        }
        var rest: Substring
        let tls: Bool
        if argument.hasPrefix("https://") {
            tls = true
            rest = argument.dropFirst("https://".count)
        } else if argument.hasPrefix("http://") {
            tls = false
            rest = argument.dropFirst("http://".count)
        } else {
            throw fail("expected \(syntax), e.g. https://ep1.example.net:7000")
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("@"), !rest.contains("?"), !rest.contains("#") else {
            throw fail("only a host and a port may follow the scheme (no path, user or query)")
        }
        let defaultPort = tls ? 443 : 80
        let hostPort: HostPort
        if rest.hasPrefix("[") || rest.filter({ $0 == ":" }).count == 1 {
            if rest.hasPrefix("["), rest.hasSuffix("]") {
                hostPort = HostPort(host: String(rest.dropFirst().dropLast()), port: defaultPort)
            } else {
                guard let parsed = HostPort(String(rest)) else { throw fail("expected HOST:PORT with a port from 1 to 65535") }
                hostPort = parsed
            }
        } else if rest.contains(":") {
            throw fail("write an IPv6 address in brackets, e.g. https://[2001:db8::1]:7000")
        } else {
            hostPort = HostPort(host: String(rest), port: defaultPort)
        }
        guard !hostPort.host.isEmpty else { throw fail("the host is missing") }
        guard hostPort.host.utf8.count <= 255 else { throw fail("the host must be at most 255 bytes") }
        guard hostPort.host.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw fail("the host must be printable ASCII without spaces")
        }
        guard (1...65535).contains(hostPort.port) else { throw fail("the port must be 1 to 65535") }
        return EndpointEntry(host: hostPort.host, port: UInt16(hostPort.port), tls: tls)
    }

    /// Parses and checks the whole list: at most ProtocolConstants.maxEndpoints, no duplicates.
    static func parseList(_ arguments: [String]) throws -> [EndpointEntry] {
        guard arguments.count <= ProtocolConstants.maxEndpoints else {
            throw ValidationFailure("at most \(ProtocolConstants.maxEndpoints) --agent-endpoint options (agents keep no more)")
        }
        var entries: [EndpointEntry] = []
        for argument in arguments {
            let entry = try parse(argument)
            guard !entries.contains(entry) else {
                throw ValidationFailure("--agent-endpoint \(argument) is given twice")
            }
            entries.append(entry)
        }
        return entries
    }

    /// `https://host:port`, for logs.
    static func display(_ entry: EndpointEntry) -> String {
        (entry.tls ? "https://" : "http://") + HostPort(host: entry.host, port: Int(entry.port)).description
    }
}
