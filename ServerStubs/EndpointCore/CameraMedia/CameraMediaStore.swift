import CamNIO
import CamProtocol

/// How streampoints pull each camera target (table camera_media): an RTSP
/// path override and the camera's credentials. Every change is one
/// transaction that moves the registry generation, so every endpoint sharing
/// the registry reloads and sends the new set down its streampoint channels.
public protocol CameraMediaStore: AnyObject, Sendable {
    /// Every camera target's settings, sorted by agent and target.
    func cameraMediaSettings() throws -> [CameraMediaRecord]
    func cameraMediaSettings(agentID: String, target: String) throws -> CameraMediaRecord?
    /// Replaces one target's settings; nil when the agent is not enrolled.
    /// Without a username (and `.keep`) the stored credentials stay.
    /// Throws ValidationFailure for `.keep` with a username but no stored password.
    func setCameraMedia(agentID: String, target: String, path: String?, username: String?, password: CameraPasswordChange,
                        at: String) throws -> CameraMediaRecord?
    /// Whether there was anything to clear.
    func clearCameraMedia(agentID: String, target: String) throws -> Bool
}

/// What a set does with the password: an operator changing only the path
/// need not type it again (the API never shows it back).
public enum CameraPasswordChange: Sendable, Equatable {
    case keep
    case set(String)
}

public struct CameraMediaRecord: Sendable, Equatable {
    public var settings: CameraMediaTarget
    public var updatedAt: String

    public init(settings: CameraMediaTarget, updatedAt: String) {
        self.settings = settings
        self.updatedAt = updatedAt
    }
}

extension SQLRegistryStore: CameraMediaStore {
    private static let cameraMediaColumns = "agent_id, target, path, username, password, updated_at"

    public func cameraMediaSettings() throws -> [CameraMediaRecord] {
        try prepare()
        return try database.read { session in
            try session.rows("SELECT \(Self.cameraMediaColumns) FROM camera_media ORDER BY agent_id, target", []).map(Self.cameraMediaRecord)
        }
    }

    public func cameraMediaSettings(agentID: String, target: String) throws -> CameraMediaRecord? {
        try prepare()
        return try database.read { session in try Self.cameraMediaRow(session, agentID: agentID, target: target) }
    }

    public func setCameraMedia(agentID: String, target: String, path: String?, username: String?, password: CameraPasswordChange,
                               at: String) throws -> CameraMediaRecord? {
        try prepare()
        return try database.transaction { session in
            guard !(try session.rows("SELECT id FROM agents WHERE id = ?", [.text(agentID)])).isEmpty else { return nil }
            let existing = try Self.cameraMediaRow(session, agentID: agentID, target: target)
            // Only a path (a switch to the substream, say): the camera still wants its credentials.
            var credentials: CameraCredentials? = username == nil && password == .keep ? existing?.settings.credentials : nil
            if let username {
                switch password {
                case .set(let text):
                    credentials = CameraCredentials(username: username, password: text)
                case .keep:
                    guard let stored = existing?.settings.credentials else {
                        throw ValidationFailure("no password is stored for \(agentID)/\(target) to keep: give one")
                    }
                    credentials = CameraCredentials(username: username, password: stored.password)
                }
            }
            let settings = CameraMediaTarget(agentID: agentID, target: target, path: path, credentials: credentials)
            if let problem = settings.problem { throw ValidationFailure(problem) }
            try session.execute("""
                INSERT INTO camera_media (\(Self.cameraMediaColumns)) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (agent_id, target) DO UPDATE SET path = excluded.path, username = excluded.username,
                    password = excluded.password, updated_at = excluded.updated_at
                """, [.text(agentID), .text(target), SQLValue(path), SQLValue(credentials?.username),
                      SQLValue(credentials?.password), .text(at)])
            try RegistryRows.bumpGeneration(session)
            return CameraMediaRecord(settings: settings, updatedAt: at)
        }
    }

    public func clearCameraMedia(agentID: String, target: String) throws -> Bool {
        try prepare()
        return try database.transaction { session in
            guard try Self.cameraMediaRow(session, agentID: agentID, target: target) != nil else { return false }
            try session.execute("DELETE FROM camera_media WHERE agent_id = ? AND target = ?", [.text(agentID), .text(target)])
            try RegistryRows.bumpGeneration(session)
            return true
        }
    }

    private static func cameraMediaRow(_ session: SQLSession, agentID: String, target: String) throws -> CameraMediaRecord? {
        try session.rows("SELECT \(cameraMediaColumns) FROM camera_media WHERE agent_id = ? AND target = ?", [.text(agentID), .text(target)])
            .first.map(cameraMediaRecord)
    }

    private static func cameraMediaRecord(_ row: [SQLValue]) throws -> CameraMediaRecord {
        guard row.count == 6, let agentID = row[0].string, let target = row[1].string, let updatedAt = row[5].string else {
            throw ValidationFailure("registry: a camera_media row is malformed")
        }
        let credentials = row[3].string.map { CameraCredentials(username: $0, password: row[4].string ?? "") }
        return CameraMediaRecord(settings: CameraMediaTarget(agentID: agentID, target: target, path: row[2].string,
                                                              credentials: credentials),
                                 updatedAt: updatedAt)
    }
}
