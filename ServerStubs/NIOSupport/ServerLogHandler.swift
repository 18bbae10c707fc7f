import CamProtocol
import Foundation
import Logging

/// swift-log's handler for every camagent server: one line per message on
/// stderr, `<UTC time> <level> <component>: <text>`, the shape of the agent's
/// own log, so one grep works on all of them. The component is the logger's
/// label. Every message is escaped with LogText.line, so peer-supplied text
/// can never forge a line, and LogRedaction takes out `token=` values and
/// Authorization headers; metadata is left out (libraries put request
/// details there).
public struct ServerLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let component: String
    private var ownLevel: Logger.Level?

    /// Follows ServerLog.minimum (--log-level) unless set for this logger.
    public var logLevel: Logger.Level {
        get { ownLevel ?? ServerLog.minimum.swiftLogLevel }
        set { ownLevel = newValue }
    }

    public init(label: String) {
        component = label
    }

    /// Makes every swift-log logger in the process write this format. Once per process.
    public static func bootstrap() {
        LoggingSystem.bootstrap(ServerLogHandler.init)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        Self.write(Self.label(event.level), component, event.message.description)
    }

    /// A logger for `component` that writes this format whether or not the
    /// process bootstrapped LoggingSystem.
    public static func logger(_ component: String, level: Logger.Level? = nil) -> Logger {
        var logger = Logger(label: component, factory: ServerLogHandler.init)
        if let level { logger.logLevel = level }
        return logger
    }

    static func label(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "debug"
        case .info, .notice: return "info"
        case .warning: return "warn"
        case .error, .critical: return "error"
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static let formatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()

    private static func write(_ level: String, _ component: String, _ text: String) {
        lock.lock()
        defer { lock.unlock() }
        let line = "\(formatter.string(from: Date())) \(level) \(component): \(LogText.line(LogRedaction.redact(text)))\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
