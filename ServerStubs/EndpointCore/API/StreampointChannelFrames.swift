import Foundation

/// The JSON frames of the streampoint channel (docs/PROTOCOL.md, "Streampoint
/// channel"): one object per text frame, told apart by its "type".
public enum StreampointChannelFrame: Equatable, Sendable {
    case hello(version: Int, streampoint: String)
    case load(StreampointLoad)
    /// A "type" this endpoint does not know: ignored, for forward compatibility.
    case unknown(type: String)

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    private struct Typed: Decodable { var type: String }
    private struct Hello: Decodable {
        var version: Int
        var streampoint: String
    }

    /// Parses one frame from a streampoint; Malformed closes the channel (1007).
    /// Typed decoding refuses what a loose reading would let through: 1.5,
    /// true or "3" where a count belongs.
    public static func parse(_ text: String) throws -> StreampointChannelFrame {
        let data = Data(text.utf8)
        let decoder = JSONDecoder()
        guard let typed = try? decoder.decode(Typed.self, from: data) else {
            throw Malformed(description: "not a JSON object with a string field \"type\"")
        }
        switch typed.type {
        case "hello":
            guard let hello = try? decoder.decode(Hello.self, from: data) else {
                throw Malformed(description: "hello needs \"version\" (integer) and \"streampoint\" (string)")
            }
            guard Identifier.isValid(hello.streampoint) else {
                throw Malformed(description: "hello: streampoint must be \(Identifier.rule)")
            }
            return .hello(version: hello.version, streampoint: hello.streampoint)
        case "load":
            guard let load = try? decoder.decode(StreampointLoad.self, from: data),
                  [load.agents, load.tunnels, load.viewers, load.bytesToViewers, load.bytesFromViewers].allSatisfy({ $0 >= 0 })
            else {
                throw Malformed(description: "load needs agents, tunnels, viewers, bytesToViewers, bytesFromViewers as integers of 0 or more")
            }
            return .load(load)
        default:
            return .unknown(type: typed.type)
        }
    }

    /// The endpoint's frame: the full current set of revoked agent ids.
    public static func revoked(_ agents: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["type": "revoked", "agents": agents],
                                                options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A streampoint's latest load report.
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
