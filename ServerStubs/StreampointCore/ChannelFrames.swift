import Foundation

/// What the streampoint reports up the streampoint channel every 5 s.
public struct StreampointLoad: Equatable, Sendable {
    public var agents: Int
    public var tunnels: Int
    public var viewers: Int
    public var bytesToViewers: UInt64
    public var bytesFromViewers: UInt64

    public init(agents: Int, tunnels: Int, viewers: Int, bytesToViewers: UInt64, bytesFromViewers: UInt64) {
        self.agents = agents
        self.tunnels = tunnels
        self.viewers = viewers
        self.bytesToViewers = bytesToViewers
        self.bytesFromViewers = bytesFromViewers
    }
}

/// The JSON text frames of the streampoint channel (docs/PROTOCOL.md §15.2): one object per frame, told apart by "type".
public enum ChannelFrames {
    public static let version = 1
    /// Frames over this are refused by the WebSocket layer (close 1009).
    public static let maxFrameBytes = 64 * 1024

    public enum Inbound: Equatable {
        /// The full current set of revoked agent ids; it replaces the previous one.
        case revoked(Set<String>)
        /// A type this version does not know: ignored, so the endpoint can add messages first.
        case unknown(type: String)
        /// Not one JSON object with a string "type", or a known type with bad fields: close 1007.
        case malformed(String)
    }

    public static func hello(streampointID: String) -> String {
        encode(["type": "hello", "version": version, "streampoint": streampointID])
    }

    public static func load(_ load: StreampointLoad) -> String {
        encode([
            "type": "load", "agents": load.agents, "tunnels": load.tunnels, "viewers": load.viewers,
            "bytesToViewers": load.bytesToViewers, "bytesFromViewers": load.bytesFromViewers,
        ])
    }

    public static func decode(_ text: String) -> Inbound {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let fields = object as? [String: Any] else {
            return .malformed("frame is not a JSON object")
        }
        guard let type = fields["type"] as? String else { return .malformed("frame has no string \"type\"") }
        switch type {
        case "revoked":
            guard let ids = fields["agents"] as? [Any] else { return .malformed("revoked frame has no \"agents\" array") }
            var set = Set<String>()
            for id in ids {
                guard let id = id as? String else { return .malformed("revoked frame lists a non-string agent id") }
                set.insert(id)
            }
            return .revoked(set)
        default:
            return .unknown(type: type)
        }
    }

    private static func encode(_ object: [String: Any]) -> String {
        // Sorted keys: the frames are byte-for-byte stable, which the tests rely on.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
