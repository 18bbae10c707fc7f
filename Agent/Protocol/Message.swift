/// A local service the agent may tunnel to, announced to the streampoint.
public struct TunnelTarget: Equatable, Sendable {
    public var name: String
    public var host: String
    public var port: UInt16
    /// The RTSP path the streampoint's media pull asks for (`/Streaming/Channels/101`);
    /// empty when the config gave none. Never part of the tunnel allowlist: a
    /// tunnel still goes to host:port.
    public var path: String

    public init(name: String, host: String, port: UInt16, path: String = "") {
        self.name = name
        self.host = host
        self.port = port
        self.path = path
    }
}

public enum StreampointFlags {
    public static let tls: UInt8 = 0x01
}

/// Every control message of protocol version 1. Type codes and layouts are in
/// docs/PROTOCOL.md §4; fields are decoded in order and trailing bytes are
/// ignored, so a later minor revision may append fields.
public enum Message: Equatable, Sendable {
    case hello(version: UInt8, role: LinkRole, software: String)
    case helloAck(version: UInt8, server: String)
    case error(code: ErrorCode, message: String)
    case heartbeat
    case authBegin(agentID: String, clientNonce: [UInt8])
    case authChallenge(serverNonce: [UInt8])
    case authProof(proof: [UInt8])
    case authOK(serverProof: [UInt8], heartbeatSeconds: UInt16, peerTimeoutSeconds: UInt16)
    /// `serial`, `mac` and `model` were appended in a compatible revision; empty when absent
    /// (a lab unit with a fixed identity has none).
    case agentInfo(software: String, buildTarget: String, serial: String = "", mac: String = "", model: String = "")
    /// First contact of a factory-fresh unit, instead of AUTH_BEGIN.
    case activateBegin(serial: String, mac: String, model: String, firmware: String, clientNonce: [UInt8])
    case activateProof(proof: [UInt8])
    /// The unit's identity. `wrappedKey` is the device key XOR a pad only the
    /// holder of the activation secret can compute (Activation.keyPad).
    case activated(serverProof: [UInt8], agentID: String, wrappedKey: [UInt8])
    /// `tls`: the streampoint's agent port speaks TLS (flags bit 0 on the wire).
    /// `backup`: where to go on its own if this streampoint dies (appended in a compatible revision).
    case streampointAssign(streampointID: String, host: String, port: UInt16, ticket: [UInt8], tls: Bool = false,
                           backup: StreampointOffer? = nil)
    /// The streampoint refused the agent's ticket (expired, usually): ask for a fresh STREAMPOINT_ASSIGN.
    case ticketRequest
    case streamRegister(ticket: [UInt8], targets: [TunnelTarget])
    case streamRegistered(streampointID: String)
    case tunnelOpen(tunnelID: UInt32, host: String, port: UInt16, bindToken: [UInt8])
    case tunnelOpenFailed(tunnelID: UInt32, code: ErrorCode, message: String)
    case tunnelBind(tunnelID: UInt32, bindToken: [UInt8])
    /// The endpoint list to keep (main first) and how often to look for the main one again.
    case configPush(endpoints: [EndpointEntry], mainRecheckSeconds: UInt16)
    case agentStats(StatsReport)
    case statsRequest
    case command(commandID: UInt32, kind: CommandKind, argument: UInt32)
    /// `code` nil: done (or about to be done: a disconnect or reset follows the result).
    case commandResult(commandID: UInt32, code: ErrorCode?, message: String)

    public enum Kind: UInt8, Sendable {
        case hello = 0x01
        case helloAck = 0x02
        case error = 0x03
        case heartbeat = 0x04
        case authBegin = 0x10
        case authChallenge = 0x11
        case authProof = 0x12
        case authOK = 0x13
        case agentInfo = 0x14
        case activateBegin = 0x15
        case activateProof = 0x16
        case activated = 0x17
        case streampointAssign = 0x20
        case ticketRequest = 0x21
        case streamRegister = 0x30
        case streamRegistered = 0x31
        case tunnelOpen = 0x40
        case tunnelOpenFailed = 0x41
        case tunnelBind = 0x42
        case configPush = 0x22
        case agentStats = 0x50
        case statsRequest = 0x51
        case command = 0x52
        case commandResult = 0x53
    }

    public var kind: Kind {
        switch self {
        case .hello: return .hello
        case .helloAck: return .helloAck
        case .error: return .error
        case .heartbeat: return .heartbeat
        case .authBegin: return .authBegin
        case .authChallenge: return .authChallenge
        case .authProof: return .authProof
        case .authOK: return .authOK
        case .agentInfo: return .agentInfo
        case .activateBegin: return .activateBegin
        case .activateProof: return .activateProof
        case .activated: return .activated
        case .streampointAssign: return .streampointAssign
        case .ticketRequest: return .ticketRequest
        case .streamRegister: return .streamRegister
        case .streamRegistered: return .streamRegistered
        case .tunnelOpen: return .tunnelOpen
        case .tunnelOpenFailed: return .tunnelOpenFailed
        case .tunnelBind: return .tunnelBind
        case .configPush: return .configPush
        case .agentStats: return .agentStats
        case .statsRequest: return .statsRequest
        case .command: return .command
        case .commandResult: return .commandResult
        }
    }

    /// For logs. Never includes field values, so secrets cannot leak through it.
    public var name: String { kind.name }
}

extension Message.Kind {
    /// The message's name in docs/PROTOCOL.md, for logs and error texts.
    public var name: String {
        switch self {
        case .hello: return "HELLO"
        case .helloAck: return "HELLO_ACK"
        case .error: return "ERROR"
        case .heartbeat: return "HEARTBEAT"
        case .authBegin: return "AUTH_BEGIN"
        case .authChallenge: return "AUTH_CHALLENGE"
        case .authProof: return "AUTH_PROOF"
        case .authOK: return "AUTH_OK"
        case .agentInfo: return "AGENT_INFO"
        case .activateBegin: return "ACTIVATE_BEGIN"
        case .activateProof: return "ACTIVATE_PROOF"
        case .activated: return "ACTIVATED"
        case .streampointAssign: return "STREAMPOINT_ASSIGN"
        case .ticketRequest: return "TICKET_REQUEST"
        case .streamRegister: return "STREAM_REGISTER"
        case .streamRegistered: return "STREAM_REGISTERED"
        case .tunnelOpen: return "TUNNEL_OPEN"
        case .tunnelOpenFailed: return "TUNNEL_OPEN_FAILED"
        case .tunnelBind: return "TUNNEL_BIND"
        case .configPush: return "CONFIG_PUSH"
        case .agentStats: return "AGENT_STATS"
        case .statsRequest: return "STATS_REQUEST"
        case .command: return "COMMAND"
        case .commandResult: return "COMMAND_RESULT"
        }
    }
}

extension Message {
    public func frame() -> Frame {
        var w = ByteWriter()
        switch self {
        case .hello(let version, let role, let software):
            w.raw(ProtocolConstants.helloMagic)
            w.u8(version)
            w.u8(role.rawValue)
            w.string(software)
        case .helloAck(let version, let server):
            w.u8(version)
            w.string(server)
        case .error(let code, let message):
            w.u16(code.rawValue)
            w.string(message)
        case .heartbeat, .ticketRequest, .statsRequest:
            break
        case .authBegin(let agentID, let clientNonce):
            w.string(agentID)
            w.raw(clientNonce)
        case .authChallenge(let serverNonce):
            w.raw(serverNonce)
        case .authProof(let proof):
            w.raw(proof)
        case .authOK(let serverProof, let heartbeatSeconds, let peerTimeoutSeconds):
            w.raw(serverProof)
            w.u16(heartbeatSeconds)
            w.u16(peerTimeoutSeconds)
        case .agentInfo(let software, let buildTarget, let serial, let mac, let model):
            w.string(software)
            w.string(buildTarget)
            w.string(serial)
            w.string(mac)
            w.string(model)
        case .activateBegin(let serial, let mac, let model, let firmware, let clientNonce):
            w.string(serial)
            w.string(mac)
            w.string(model)
            w.string(firmware)
            w.raw(clientNonce)
        case .activateProof(let proof):
            w.raw(proof)
        case .activated(let serverProof, let agentID, let wrappedKey):
            w.raw(serverProof)
            w.string(agentID)
            w.blob(wrappedKey)
        case .streampointAssign(let streampointID, let host, let port, let ticket, let tls, let backup):
            StreampointOffer(streampointID: streampointID, host: host, port: port, ticket: ticket, tls: tls).write(to: &w)
            backup?.write(to: &w)
        case .streamRegister(let ticket, let targets):
            w.blob(ticket)
            w.u8(UInt8(truncatingIfNeeded: targets.count))
            for target in targets {
                w.string(target.name)
                w.string(target.host)
                w.u16(target.port)
            }
            // The paths were appended in a compatible revision: one string per
            // target, sent only when some target has one (PROTOCOL §4.3).
            var hasPath = false
            for target in targets where !target.path.isEmpty { hasPath = true }
            if hasPath {
                for target in targets { w.string(target.path) }
            }
        case .streamRegistered(let streampointID):
            w.string(streampointID)
        case .tunnelOpen(let tunnelID, let host, let port, let bindToken):
            w.u32(tunnelID)
            w.string(host)
            w.u16(port)
            w.raw(bindToken)
        case .tunnelOpenFailed(let tunnelID, let code, let message):
            w.u32(tunnelID)
            w.u16(code.rawValue)
            w.string(message)
        case .tunnelBind(let tunnelID, let bindToken):
            w.u32(tunnelID)
            w.raw(bindToken)
        case .configPush(let endpoints, let mainRecheckSeconds):
            w.u8(UInt8(truncatingIfNeeded: endpoints.count))
            for endpoint in endpoints {
                w.string(endpoint.host)
                w.u16(endpoint.port)
                w.u8(endpoint.tls ? StreampointFlags.tls : 0)
            }
            w.u16(mainRecheckSeconds)
        case .agentStats(let report):
            report.write(to: &w)
        case .command(let commandID, let kind, let argument):
            w.u32(commandID)
            w.u8(kind.rawValue)
            w.u32(argument)
        case .commandResult(let commandID, let code, let message):
            w.u32(commandID)
            w.u16(code?.rawValue ?? 0)
            w.string(message)
        }
        return Frame(type: kind.rawValue, payload: w.bytes)
    }

    public func encoded() -> [UInt8] { frame().encoded() }

    public init(frame: Frame) throws(ProtocolError) {
        guard let kind = Kind(rawValue: frame.type) else { throw .unknownMessageType(frame.type) }
        var r = ByteReader(frame.payload, context: kind.name)
        switch kind {
        case .hello:
            guard try r.raw(4) == ProtocolConstants.helloMagic else { throw .badMagic }
            let version = try r.u8()
            // Checked before the rest: another version may lay out the rest differently.
            guard version == ProtocolConstants.version else { throw .unsupportedVersion(version) }
            let roleByte = try r.u8()
            let software = try r.string()
            guard let role = LinkRole(rawValue: roleByte) else { throw .unknownRole(roleByte) }
            self = .hello(version: version, role: role, software: software)
        case .helloAck:
            let version = try r.u8()
            guard version == ProtocolConstants.version else { throw .unsupportedVersion(version) }
            self = .helloAck(version: version, server: try r.string())
        case .error:
            self = .error(code: ErrorCode(wire: try r.u16()), message: try r.string())
        case .heartbeat:
            self = .heartbeat
        case .authBegin:
            let agentID = try r.string()
            self = .authBegin(agentID: agentID, clientNonce: try r.raw(ProtocolConstants.nonceSize))
        case .authChallenge:
            self = .authChallenge(serverNonce: try r.raw(ProtocolConstants.nonceSize))
        case .authProof:
            self = .authProof(proof: try r.raw(ProtocolConstants.proofSize))
        case .authOK:
            let proof = try r.raw(ProtocolConstants.proofSize)
            let heartbeat = try r.u16()
            let timeout = try r.u16()
            self = .authOK(serverProof: proof, heartbeatSeconds: heartbeat, peerTimeoutSeconds: timeout)
        case .agentInfo:
            let software = try r.string()
            let buildTarget = try r.string()
            let serial = r.remaining > 0 ? try r.string() : ""
            let mac = r.remaining > 0 ? try r.string() : ""
            let model = r.remaining > 0 ? try r.string() : ""
            self = .agentInfo(software: software, buildTarget: buildTarget, serial: serial, mac: mac, model: model)
        case .activateBegin:
            let serial = try r.string()
            let mac = try r.string()
            let model = try r.string()
            let firmware = try r.string()
            self = .activateBegin(serial: serial, mac: mac, model: model, firmware: firmware,
                                  clientNonce: try r.raw(ProtocolConstants.nonceSize))
        case .activateProof:
            self = .activateProof(proof: try r.raw(ProtocolConstants.proofSize))
        case .activated:
            let proof = try r.raw(ProtocolConstants.proofSize)
            let agentID = try r.string()
            self = .activated(serverProof: proof, agentID: agentID, wrappedKey: try r.blob())
        case .streampointAssign:
            let id = try r.string()
            let host = try r.host()
            let port = try r.u16()
            let ticket = try r.blob()
            // The flags byte, then the backup, were appended in compatible revisions;
            // absent flags mean plain TCP, an absent backup means none.
            let flags = r.remaining > 0 ? try r.u8() : 0
            let backup = r.remaining > 0 ? try StreampointOffer.read(from: &r) : nil
            self = .streampointAssign(streampointID: id, host: host, port: port, ticket: ticket,
                                      tls: flags & StreampointFlags.tls != 0, backup: backup)
        case .ticketRequest:
            self = .ticketRequest
        case .streamRegister:
            let ticket = try r.blob()
            let count = Int(try r.u8())
            guard count <= ProtocolConstants.maxTargets else { throw .tooManyTargets }
            var targets: [TunnelTarget] = []
            for _ in 0..<count {
                let name = try r.string()
                let host = try r.host()
                targets.append(TunnelTarget(name: name, host: host, port: try r.u16()))
            }
            // Absent paths (an agent without any, or one that predates them): none.
            if r.remaining > 0 {
                for index in 0..<targets.count { targets[index].path = try r.string() }
            }
            self = .streamRegister(ticket: ticket, targets: targets)
        case .streamRegistered:
            self = .streamRegistered(streampointID: try r.string())
        case .tunnelOpen:
            let id = try r.u32()
            let host = try r.host()
            let port = try r.u16()
            self = .tunnelOpen(tunnelID: id, host: host, port: port, bindToken: try r.raw(ProtocolConstants.bindTokenSize))
        case .tunnelOpenFailed:
            let id = try r.u32()
            let code = ErrorCode(wire: try r.u16())
            self = .tunnelOpenFailed(tunnelID: id, code: code, message: try r.string())
        case .tunnelBind:
            let id = try r.u32()
            self = .tunnelBind(tunnelID: id, bindToken: try r.raw(ProtocolConstants.bindTokenSize))
        case .configPush:
            let count = Int(try r.u8())
            guard count <= ProtocolConstants.maxEndpoints else { throw .tooManyEntries("endpoints in CONFIG_PUSH") }
            var endpoints: [EndpointEntry] = []
            for _ in 0..<count {
                let host = try r.host()
                let port = try r.u16()
                endpoints.append(EndpointEntry(host: host, port: port, tls: try r.u8() & StreampointFlags.tls != 0))
            }
            self = .configPush(endpoints: endpoints, mainRecheckSeconds: try r.u16())
        case .agentStats:
            self = .agentStats(try StatsReport.read(from: &r))
        case .statsRequest:
            self = .statsRequest
        case .command:
            let id = try r.u32()
            let kindByte = try r.u8()
            let argument = try r.u32()
            // An unknown command is answered (COMMAND_RESULT), not a protocol violation,
            // so a newer endpoint can probe what an agent supports.
            self = .command(commandID: id, kind: CommandKind(wire: kindByte), argument: argument)
        case .commandResult:
            let id = try r.u32()
            let code = try r.u16()
            self = .commandResult(commandID: id, code: code == 0 ? nil : ErrorCode(wire: code), message: try r.string())
        }
    }
}
