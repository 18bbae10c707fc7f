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
        default:
            return .unknown(type: typed.type)
        }
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
        case .unknown(let type):
            object = ["type": type]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
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
