import CCamShim
import CamCore
import CamProtocol

/// Writes `<UTC time> <level> camagent: <text>` lines to stderr, the same shape
/// as the servers' logs. Texts come from the core, which never puts secrets in
/// them; peer-supplied parts are escaped here (LogText), so none can forge a line.
public struct Logger {
    public var minimum: LogLevel

    public init(minimum: LogLevel) { self.minimum = minimum }

    public func log(_ level: LogLevel, _ text: String) {
        guard level >= minimum else { return }
        let line = "\(utcTimestamp(cs_wall_seconds())) \(level.label) camagent: \(LogText.line(text))\n"
        writeStderr(line)
    }
}

public func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBufferPointer { cs_write_stderr($0.baseAddress, $0.count) }
}

public func writeStdout(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBufferPointer { cs_write_stdout($0.baseAddress, $0.count) }
}

/// ISO 8601 UTC from Unix seconds, without libc's time formatting (days-to-civil
/// from Howard Hinnant's algorithm).
public func utcTimestamp(_ unixSeconds: Int64) -> String {
    let days = unixSeconds >= 0 ? unixSeconds / 86400 : (unixSeconds - 86399) / 86400
    let secondsOfDay = unixSeconds - days * 86400
    let z = days + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let dayOfEra = z - era * 146097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return "\(year)-\(twoDigits(month))-\(twoDigits(day))T\(twoDigits(secondsOfDay / 3600)):"
        + "\(twoDigits(secondsOfDay % 3600 / 60)):\(twoDigits(secondsOfDay % 60))Z"
}

private func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

/// Text for a negated errno or resolver code from the shim.
public func errorText(_ code: Int) -> String {
    var buffer = [UInt8](repeating: 0, count: 128)
    let length = buffer.withUnsafeMutableBufferPointer { cs_error_text(Int32(truncatingIfNeeded: code), $0.baseAddress, $0.count) }
    return decodeUTF8Lossy(Array(buffer[0..<length]))
}

func decodeUTF8Lossy(_ bytes: [UInt8]) -> String {
    var printable: [UInt8] = []
    for byte in bytes { printable.append(byte < 0x80 ? byte : 0x3F) }
    return String(decoding: printable, as: UTF8.self)
}
