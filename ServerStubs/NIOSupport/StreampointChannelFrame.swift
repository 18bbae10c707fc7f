import CamProtocol
import Foundation

/// The JSON text frames of the streampoint channel (docs/PROTOCOL.md §15): one
/// object per frame, told apart by its "type". The endpoint and the streampoint
/// both speak through this one codec, so the two ends cannot drift apart.
public enum StreampointChannelFrame: Equatable, Sendable {
    /// Streampoint → endpoint, first frame.
    case hello(version: Int, streampoint: String)
    /// Streampoint → endpoint, every 5 s.
    case load(StreampointLoad)
    /// Endpoint → streampoint: the full current set of revoked agent ids; it replaces the previous one.
    case revoked(Set<String>)
    /// Endpoint → streampoint: every viewer-token key the streampoint accepts, newest
    /// (the one the endpoint signs with) first; it replaces the previous set (PROTOCOL §15.2, §16).
    case viewerKeys([ViewerTokenKey])
    /// Endpoint → streampoint: one part of the full set of camera media settings
    /// (RTSP path, credentials); the parts of one set follow each other, and the
    /// last one replaces the streampoint's set (PROTOCOL §15.2).
    case cameraMedia(CameraMediaPart)
    /// A "type" this version does not know: ignored, so either end can add messages first.
    case unknown(type: String)

    public static let version = 1
    /// Frames over this are refused by the WebSocket layer (close 1009).
    public static let maxFrameBytes = 64 * 1024

    /// Closes the channel with 1007.
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    private struct Typed: Decodable { var type: String }
    private struct Hello: Decodable {
        var version: Int
        var streampoint: String
    }
    private struct Revoked: Decodable { var agents: [String] }
    private struct ViewerKeys: Decodable {
        struct Key: Decodable {
            var id: UInt32
            var secret: String
        }
        var keys: [Key]
    }
    private struct CameraMediaWire: Decodable {
        struct Target: Decodable {
            var agent: String
            var target: String
            var path: String?
            var username: String?
            var password: String?
        }
        var part: Int
        var parts: Int
        var targets: [Target]
    }
    /// More than current + previous, so a rotation policy may keep a few; far fewer than a frame holds.
    public static let maxViewerKeys = 8

    /// Typed decoding refuses what a loose reading would let through: 1.5,
    /// true or "3" where a count belongs, a number where an id belongs.
    public static func parse(_ text: String) throws(Malformed) -> StreampointChannelFrame {
        let data = Data(text.utf8)
        let decoder = JSONDecoder()
        guard let typed = try? decoder.decode(Typed.self, from: data) else {
            throw Malformed("not a JSON object with a string field \"type\"")
        }
        switch typed.type {
        case "hello":
            guard let hello = try? decoder.decode(Hello.self, from: data) else {
                throw Malformed("hello needs \"version\" (integer) and \"streampoint\" (string)")
            }
            guard Identifier.isValid(hello.streampoint) else { throw Malformed("hello: streampoint must be \(Identifier.rule)") }
            return .hello(version: hello.version, streampoint: hello.streampoint)
        case "load":
            guard let load = try? decoder.decode(StreampointLoad.self, from: data),
                  [load.agents, load.tunnels, load.viewers, load.bytesToViewers, load.bytesFromViewers].allSatisfy({ $0 >= 0 })
            else {
                throw Malformed("load needs agents, tunnels, viewers, bytesToViewers, bytesFromViewers as integers of 0 or more")
            }
            return .load(load)
        case "revoked":
            guard let revoked = try? decoder.decode(Revoked.self, from: data) else {
                throw Malformed("revoked needs \"agents\", an array of strings")
            }
            return .revoked(Set(revoked.agents))
        case "viewerKeys":
            guard let wire = try? decoder.decode(ViewerKeys.self, from: data) else {
                throw Malformed("viewerKeys needs \"keys\", an array of {\"id\": integer, \"secret\": string}")
            }
            guard wire.keys.count <= maxViewerKeys else { throw Malformed("viewerKeys: at most \(maxViewerKeys) keys") }
            var keys: [ViewerTokenKey] = []
            for key in wire.keys {
                guard let secret = Base64URL.decode(key.secret), secret.count == ViewerTokenKey.secretSize else {
                    throw Malformed("viewerKeys: each secret must be \(ViewerTokenKey.secretSize) bytes in base64url")
                }
                guard !keys.contains(where: { $0.id == key.id }) else { throw Malformed("viewerKeys: key id \(key.id) repeated") }
                keys.append(ViewerTokenKey(id: key.id, secret: secret))
            }
            return .viewerKeys(keys)
        case "cameraMedia":
            return .cameraMedia(try parseCameraMedia(data))
        default:
            return .unknown(type: typed.type)
        }
    }

    private static func parseCameraMedia(_ data: Data) throws(Malformed) -> CameraMediaPart {
        guard let wire = try? JSONDecoder().decode(CameraMediaWire.self, from: data) else {
            throw Malformed(#"cameraMedia needs integers "part", "parts" and "targets" of {"agent","target"[,"path","username","password"]}"#)
        }
        guard (1...CameraMediaPart.maxParts).contains(wire.parts), (1...wire.parts).contains(wire.part) else {
            throw Malformed("cameraMedia: parts must be 1 to \(CameraMediaPart.maxParts) and part 1 to parts")
        }
        var targets: [CameraMediaTarget] = []
        var seen = Set<String>()
        for entry in wire.targets {
            guard (entry.username == nil) == (entry.password == nil) else {
                throw Malformed("cameraMedia: username and password come together or not at all")
            }
            let credentials = entry.username.map { CameraCredentials(username: $0, password: entry.password ?? "") }
            let target = CameraMediaTarget(agentID: entry.agent, target: entry.target, path: entry.path, credentials: credentials)
            if let problem = target.problem { throw Malformed("cameraMedia: \(problem)") }
            guard seen.insert(entry.agent + "/" + entry.target).inserted else {
                throw Malformed("cameraMedia: \(LogText.peer(entry.agent))/\(LogText.peer(entry.target)) repeated")
            }
            targets.append(target)
        }
        return CameraMediaPart(part: wire.part, parts: wire.parts, targets: targets)
    }

    /// The frame's text; keys sorted, so frames are byte-for-byte stable.
    public var text: String {
        let object: [String: Any]
        switch self {
        case .hello(let version, let streampoint):
            object = ["type": "hello", "version": version, "streampoint": streampoint]
        case .load(let load):
            object = ["type": "load", "agents": load.agents, "tunnels": load.tunnels, "viewers": load.viewers,
                      "bytesToViewers": load.bytesToViewers, "bytesFromViewers": load.bytesFromViewers]
        case .revoked(let agents):
            object = ["type": "revoked", "agents": agents.sorted()]
        case .viewerKeys(let keys):
            object = ["type": "viewerKeys",
                      "keys": keys.map { ["id": Int($0.id), "secret": Base64URL.encode($0.secret)] as [String: Any] }]
        case .cameraMedia(let part):
            object = part.wireObject
        case .unknown(let type):
            object = ["type": type]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// One `cameraMedia` frame: part `part` (from 1) of `parts`.
public struct CameraMediaPart: Equatable, Sendable {
    public var part: Int
    public var parts: Int
    public var targets: [CameraMediaTarget]

    /// A set of more than about 300,000 typical entries is refused.
    public static let maxParts = 1024
    /// Room left under maxFrameBytes for the frame's own fields: a part is cut at this size.
    public static let partBudgetBytes = 60 * 1024

    public init(part: Int, parts: Int, targets: [CameraMediaTarget]) {
        self.part = part
        self.parts = parts
        self.targets = targets
    }

    /// The whole set as the frames to send, in order: as many targets per
    /// frame as fit partBudgetBytes, one empty part for an empty set.
    public static func frames(for targets: [CameraMediaTarget]) -> [StreampointChannelFrame] {
        var groups: [[CameraMediaTarget]] = [[]]
        var size = 0
        for target in targets {
            let entrySize = Self.encodedSize(of: target) + 1
            if size + entrySize > partBudgetBytes, !groups[groups.count - 1].isEmpty {
                groups.append([])
                size = 0
            }
            groups[groups.count - 1].append(target)
            size += entrySize
        }
        return groups.enumerated().map { index, group in
            .cameraMedia(CameraMediaPart(part: index + 1, parts: groups.count, targets: group))
        }
    }

    static func entryObject(_ target: CameraMediaTarget) -> [String: Any] {
        var entry: [String: Any] = ["agent": target.agentID, "target": target.target]
        if let path = target.path { entry["path"] = path }
        if let credentials = target.credentials {
            entry["username"] = credentials.username
            entry["password"] = credentials.password
        }
        return entry
    }

    static func encodedSize(of target: CameraMediaTarget) -> Int {
        (try? JSONSerialization.data(withJSONObject: entryObject(target), options: [.sortedKeys, .withoutEscapingSlashes]))?.count ?? 0
    }

    var wireObject: [String: Any] {
        ["type": "cameraMedia", "part": part, "parts": parts, "targets": targets.map(Self.entryObject)]
    }
}

/// A streampoint's load report.
public struct StreampointLoad: Codable, Equatable, Sendable {
    public var agents: Int64
    public var tunnels: Int64
    public var viewers: Int64
    public var bytesToViewers: Int64
    public var bytesFromViewers: Int64

    public init(agents: Int64, tunnels: Int64, viewers: Int64, bytesToViewers: Int64, bytesFromViewers: Int64) {
        self.agents = agents
        self.tunnels = tunnels
        self.viewers = viewers
        self.bytesToViewers = bytesToViewers
        self.bytesFromViewers = bytesFromViewers
    }
}
