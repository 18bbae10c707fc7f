import Foundation
import CamProtocol
import Logging
import NIOCore

/// The servers' log calls of old, now a thin shim over swift-log: each line
/// goes through a Logger whose handler (ServerLogHandler) writes the shape all
/// camagent logs share, `<UTC time> <level> <component>: <text>`, escaped.
/// The streampoint and the fleet still call it; new code takes a Logger.
public enum ServerLog {
    public enum Level: Int, Comparable, Sendable {
        case debug = 0, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var label: String { ["debug", "info", "warn", "error"][rawValue] }

        var swiftLogLevel: Logger.Level {
            switch self {
            case .debug: return .debug
            case .info: return .info
            case .warn: return .warning
            case .error: return .error
            }
        }
    }

    /// The process's --log-level: every ServerLogHandler without a level of its own follows it.
    nonisolated(unsafe) public static var minimum: Level = .info

    public static func log(_ level: Level, _ component: String, _ text: String) {
        guard level >= minimum else { return }
        ServerLogHandler.logger(component).log(level: level.swiftLogLevel, "\(text)")
    }

    public static func debug(_ c: String, _ t: String) { log(.debug, c, t) }
    public static func info(_ c: String, _ t: String) { log(.info, c, t) }
    public static func warn(_ c: String, _ t: String) { log(.warn, c, t) }
    public static func error(_ c: String, _ t: String) { log(.error, c, t) }
}

/// `host:port` as given on a command line; `[v6]:port` is accepted too.
public struct HostPort: CustomStringConvertible, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `host:port` of a peer for log lines (`?` if unknown), in the same form as HostPort.
public func describeRemote(_ address: SocketAddress?) -> String {
    guard let address, let ip = address.ipAddress, let port = address.port else { return "?" }
    return HostPort(host: ip, port: port).description
}

/// Reads a secret file holding hex (whitespace ignored). Errors name the file, never the content.
public func readHexSecret(path: String, minimumBytes: Int = 16) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationFailure("cannot read key file \(path)")
    }
    let text = String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }
    guard let bytes = Hex.decode(text), bytes.count >= minimumBytes else {
        throw ValidationFailure("key file \(path) must hold at least \(minimumBytes) bytes as hex")
    }
    return bytes
}

public struct ValidationFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Prints the line tests and scripts wait for once a listener is bound.
public func announceListening(_ component: String, _ what: String, _ channel: Channel) {
    announceListening(component, what, address: channel.localAddress)
}

public func announceListening(_ component: String, _ what: String, address: SocketAddress?) {
    let host = address?.ipAddress ?? "?"
    let port = address?.port ?? 0
    print("\(component): \(what) listening on \(HostPort(host: host, port: port))")
    fflush(stdout)
}
