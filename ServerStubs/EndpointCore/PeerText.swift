import CamNIO
import CamProtocol
import Foundation

/// Peer-supplied text for a log line: quoted, escaped and capped (LogText).
public func bounded(_ text: String) -> String {
    "\"" + LogText.peer(text) + "\""
}

/// Wall-clock time for the registry (lastActivation, revocations).
public func isoTimestamp(_ date: Date = Date()) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: date)
}
