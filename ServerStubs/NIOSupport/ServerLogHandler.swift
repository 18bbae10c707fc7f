import Logging

/// Lets libraries that log through swift-log (Hummingbird, its WebSocket
/// layer) write the servers' own line format through ServerLog, escaped like
/// every other line. Metadata is left out: libraries put request details there.
public struct ServerLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let component: String

    public init(component: String, level: Logger.Level = .info) {
        self.component = component
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        ServerLog.log(Self.serverLevel(level), component, message.description)
    }

    static func serverLevel(_ level: Logger.Level) -> ServerLog.Level {
        switch level {
        case .trace, .debug: return .debug
        case .info, .notice: return .info
        case .warning: return .warn
        case .error, .critical: return .error
        }
    }

    /// A logger for a library working on behalf of `component`.
    public static func logger(component: String, label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in ServerLogHandler(component: component) }
        logger.logLevel = level
        return logger
    }
}
