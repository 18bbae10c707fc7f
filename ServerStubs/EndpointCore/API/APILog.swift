import CamNIO
import Logging

/// The API's log lines: swift-log, in the servers' shared line format, under
/// the endpoint's component name and its --log-level.
enum APILog {
    static let logger = ServerLogHandler.logger("endpoint")
}
