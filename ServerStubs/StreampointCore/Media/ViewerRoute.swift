import CamNIO
import CamProtocol
import Foundation

/// Where a viewer asked to go, from an RTSP or HTTP request target:
///
///     rtsp://SP/<agent-id>/<target>[/<track control>][?token=T]
///     http://SP/play/<agent-id>/<target>?token=T     the player page
///     ws://SP/live/<agent-id>/<target>?token=T       fMP4 over WebSocket
///     http://SP/recordings/<agent-id>/<target>?day=D&token=T              recorded ranges
///     ws://SP/recordings/<agent-id>/<target>/play?from=F&speed=S&token=T  playback
///     http://SP/recordings/<agent-id>/<target>/export.mp4?from=F&to=T2&token=T
///
/// The token may also come in `Authorization: Bearer T`. Parsing is strict:
/// agent ids and target names are identifiers, so a path that is not one is
/// refused instead of being percent-decoded into something else.
public struct ViewerRoute: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case rtsp
        case player
        case live
        /// The day's recorded ranges and gaps (JSON).
        case recordedRanges
        /// Playback of a recording, fMP4 over WebSocket, like `live`.
        case playback
        /// A recorded range as one MP4 file.
        case export
    }

    public var kind: Kind
    public var agentID: String
    public var target: String
    /// RTSP only: what follows the target (a SETUP's track control, e.g. "trackID=0").
    public var trackControl: String?
    public var token: String?
    /// The request's query (recordings: day, from, to, speed), the token
    /// removed so that nothing downstream can log it by accident.
    public var parameters: [String: String] = [:]

    public init(kind: Kind, agentID: String, target: String, trackControl: String?, token: String?,
                parameters: [String: String] = [:]) {
        self.kind = kind
        self.agentID = agentID
        self.target = target
        self.trackControl = trackControl
        self.token = token
        self.parameters = parameters
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAViewerPath
        case badIdentifier

        public var description: String {
            switch self {
            case .notAViewerPath:
                return "not a viewer path (expected /play/<agent>/<target>, /live/<agent>/<target>, /recordings/<agent>/<target>[/play|/export.mp4] or rtsp://host/<agent>/<target>)"
            case .badIdentifier: return "the agent id or target name is not a valid identifier"
            }
        }
    }

    /// An HTTP request target (origin form: path and query).
    public static func http(_ requestTarget: String, authorization: String? = nil) -> Result<ViewerRoute, Failure> {
        let (path, query) = splitQuery(requestTarget)
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let kind: Kind
        switch (parts.first, parts.count, parts.count == 4 ? parts[3] : nil) {
        case ("play", 3, _): kind = .player
        case ("live", 3, _): kind = .live
        case ("recordings", 3, _): kind = .recordedRanges
        case ("recordings", 4, "play"): kind = .playback
        case ("recordings", 4, "export.mp4"): kind = .export
        default: return .failure(.notAViewerPath)
        }
        guard Identifier.isValid(parts[1]), Identifier.isValid(parts[2]) else { return .failure(.badIdentifier) }
        return .success(ViewerRoute(kind: kind, agentID: parts[1], target: parts[2], trackControl: nil,
                                    token: token(query: query, authorization: authorization),
                                    parameters: kind == .player || kind == .live ? [:] : parameters(query)))
    }

    /// An RTSP request URI: absolute (`rtsp://host[:port]/…`) or a bare path.
    public static func rtsp(_ uri: String, authorization: String? = nil) -> Result<ViewerRoute, Failure> {
        var rest = Substring(uri)
        for scheme in ["rtsp://", "rtsps://"] where rest.lowercased().hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
            guard let slash = rest.firstIndex(of: "/") else { return .failure(.notAViewerPath) }
            rest = rest[slash...]
        }
        let (path, query) = splitQuery(String(rest))
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 2 || parts.count == 3 else { return .failure(.notAViewerPath) }
        guard Identifier.isValid(parts[0]), Identifier.isValid(parts[1]) else { return .failure(.badIdentifier) }
        return .success(ViewerRoute(kind: .rtsp, agentID: parts[0], target: parts[1],
                                    trackControl: parts.count == 3 ? parts[2] : nil,
                                    token: token(query: query, authorization: authorization)))
    }

    private static func splitQuery(_ target: String) -> (path: Substring, query: Substring) {
        let noFragment = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let mark = noFragment.firstIndex(of: "?") else { return (noFragment, "") }
        return (noFragment[..<mark], noFragment[noFragment.index(after: mark)...])
    }

    /// Query fields other than `token`, percent-decoded; the first of a repeated
    /// name wins. Values are checked by whoever uses them.
    private static func parameters(_ query: Substring) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let nameAndValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = nameAndValue.first, name != "token", result[String(name)] == nil else { continue }
            let value = nameAndValue.count > 1 ? nameAndValue[1] : ""
            result[String(name)] = String(value).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(value)
        }
        return result
    }

    /// The query's `token` wins over the header: a player page passes it on to /live.
    /// An empty value counts as no token.
    private static func token(query: Substring, authorization: String?) -> String? {
        guard let token = ViewerToken.presented(query: query, authorization: authorization), !token.isEmpty else { return nil }
        return token
    }
}
