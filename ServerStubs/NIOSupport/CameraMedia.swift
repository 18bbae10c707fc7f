import CamProtocol

/// How a streampoint pulls one camera target (issue #11 §2, DESIGN §9 "Targets
/// with paths"): the RTSP path to ask for, and the camera's own credentials.
/// Kept per camera by the endpoint's registry and sent down the streampoint
/// channel (docs/PROTOCOL.md §15.2 `cameraMedia`); viewers never see them.
public struct CameraMediaTarget: Equatable, Sendable, CustomStringConvertible {
    public var agentID: String
    public var target: String
    /// Overrides the agent's path and the default `/` (CameraMediaRules.pathProblem).
    public var path: String?
    public var credentials: CameraCredentials?

    public init(agentID: String, target: String, path: String? = nil, credentials: CameraCredentials? = nil) {
        self.agentID = agentID
        self.target = target
        self.path = path
        self.credentials = credentials
    }

    /// The first rule it breaks, for a 400 or a 1007; nil when valid.
    public var problem: String? {
        guard Identifier.isValid(agentID) else { return "agent must be \(Identifier.rule)" }
        guard Identifier.isValid(target) else { return "target must be \(Identifier.rule)" }
        if let path, let problem = CameraMediaRules.pathProblem(path) { return problem }
        if let credentials, let problem = credentials.problem { return problem }
        return nil
    }

    public var description: String {
        "\(agentID)/\(target) path \(path ?? "(none)") credentials \(credentials.map { "for \($0.username)" } ?? "(none)")"
    }
}

/// A camera's RTSP user and password. The password is stored and sent as it
/// is: the streampoint must answer the camera's Digest challenge with it.
/// Its description never shows the password, so an interpolation cannot leak it.
public struct CameraCredentials: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var problem: String? {
        CameraMediaRules.usernameProblem(username) ?? CameraMediaRules.passwordProblem(password)
    }

    public var description: String { "credentials for \(username) (password redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["username": username]) }
}

public enum CameraMediaRules {
    public static let maxPathBytes = 255
    public static let maxUsernameBytes = 255
    public static let maxPasswordBytes = 255

    public static let pathRule = "a path starts with / and holds 1 to 255 printable ASCII characters (no spaces), e.g. /Streaming/Channels/101"
    public static let usernameRule = "a username is 1 to 255 bytes of UTF-8 without control characters or ':'"
    public static let passwordRule = "a password is at most 255 bytes of UTF-8 without control characters"

    public static func pathProblem(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/"), bytes.count <= maxPathBytes,
              bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return pathRule }
        return nil
    }

    /// RFC 7617: a user-id with a colon cannot be sent in Basic.
    public static func usernameProblem(_ username: String) -> String? {
        let bytes = Array(username.utf8)
        guard !bytes.isEmpty, bytes.count <= maxUsernameBytes, !bytes.contains(UInt8(ascii: ":")),
              !hasControl(bytes) else { return usernameRule }
        return nil
    }

    public static func passwordProblem(_ password: String) -> String? {
        let bytes = Array(password.utf8)
        guard bytes.count <= maxPasswordBytes, !hasControl(bytes) else { return passwordRule }
        return nil
    }

    /// C0, DEL and C1 (U+0080–U+009F, UTF-8 C2 80–C2 9F).
    private static func hasControl(_ bytes: [UInt8]) -> Bool {
        for (index, byte) in bytes.enumerated() {
            if byte < 0x20 || byte == 0x7F { return true }
            if byte == 0xC2, index + 1 < bytes.count, (0x80...0x9F).contains(bytes[index + 1]) { return true }
        }
        return false
    }
}
