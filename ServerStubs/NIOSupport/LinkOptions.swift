import ArgumentParser
import NIOCore

/// The agent-link options every camagent server takes alike (the endpoint and
/// the streampoint; the fleet dials out and takes none of them): TLS,
/// heartbeat and peer timeout, the cap on connections still in their
/// handshake, and the log level. One definition, one help text, one
/// validation; both servers have the same defaults.
public struct LinkOptions: ParsableArguments {
    @Option(help: ArgumentHelp(AgentLinkTLS.certificateHelp, valueName: "file"))
    public var tlsCert: String?

    @Option(help: ArgumentHelp(AgentLinkTLS.keyHelp, valueName: "file"))
    public var tlsKey: String?

    @Option(help: ArgumentHelp("Seconds between heartbeats on agent control links.", valueName: "seconds"))
    public var heartbeat: Int = 10

    @Option(help: ArgumentHelp("Close an agent control link silent for this long.", valueName: "seconds"))
    public var peerTimeout: Int = 30

    @Option(help: ArgumentHelp("Most agent links mid-handshake at once (each is also cut off after 10 s); more are refused at once, so idle or slow connections cannot exhaust the server.", valueName: "count"))
    public var maxPending: Int = 256

    @Option(help: ArgumentHelp("Least severe log level written to stderr: debug, info, warn or error.", valueName: "level"))
    public var logLevel: LogLevelOption = .info

    public init() {}

    public func validate() throws {
        do {
            try AgentLinkTLS.checkOptions(certificateFile: tlsCert, keyFile: tlsKey)
        } catch {
            throw ValidationError("\(error)")
        }
        guard (1...Int(UInt16.max)).contains(heartbeat) else { throw ValidationError("--heartbeat must be 1 to 65535 seconds") }
        guard (1...Int(UInt16.max)).contains(peerTimeout) else { throw ValidationError("--peer-timeout must be 1 to 65535 seconds") }
        guard peerTimeout > heartbeat else {
            throw ValidationError("--peer-timeout (\(peerTimeout)) must be longer than --heartbeat (\(heartbeat)), or live links would time out")
        }
        guard maxPending >= 1 else { throw ValidationError("--max-pending must be at least 1") }
    }

    public var heartbeatInterval: TimeAmount { .seconds(Int64(heartbeat)) }
    public var peerTimeoutInterval: TimeAmount { .seconds(Int64(peerTimeout)) }

    /// Applies --log-level to ServerLog and to every swift-log logger in the
    /// process (Hummingbird, PostgresNIO, the WebSocket client). Once per process.
    public func startLogging() {
        ServerLog.minimum = logLevel.level
        ServerLogHandler.bootstrap()
    }
}

/// `--log-level`: the least severe level written.
public enum LogLevelOption: String, ExpressibleByArgument, CaseIterable, Sendable {
    case debug, info, warn, error

    /// Any case, and "warning": the streampoint has always taken both.
    public init?(argument: String) {
        let text = argument.lowercased()
        self.init(rawValue: text == "warning" ? "warn" : text)
    }

    public var level: ServerLog.Level {
        switch self {
        case .debug: return .debug
        case .info: return .info
        case .warn: return .warn
        case .error: return .error
        }
    }
}
