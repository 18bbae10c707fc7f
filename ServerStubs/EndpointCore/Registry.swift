import CamNIO
import CamProtocol
import Foundation


/// One enrolled agent. Only the verifier is stored, never the device key.
public struct AgentRecord: Codable, Equatable, Sendable {
    public var id: String
    /// Hex of Authentication.verifier(deviceKey:agentID:).
    public var verifier: String
    /// Assigned streampoint id; nil means "the endpoint's default streampoint".
    public var streampoint: String?
    /// Set by `revoke`: the endpoint refuses this agent (after a correct proof) with the reason.
    public var revoked: Revocation?
    /// The backup streampoint the operator chose; nil means "the one after the
    /// main streampoint in the endpoint's --streampoint list".
    public var backupStreampoint: String?

    public init(id: String, verifier: String, streampoint: String?, revoked: Revocation? = nil, backupStreampoint: String? = nil) {
        self.id = id
        self.verifier = verifier
        self.streampoint = streampoint
        self.revoked = revoked
        self.backupStreampoint = backupStreampoint
    }

    private enum CodingKeys: String, CodingKey { case id, verifier, streampoint, revoked, backupStreampoint }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        verifier = try c.decode(String.self, forKey: .verifier)
        streampoint = try c.decodeIfPresent(String.self, forKey: .streampoint)
        revoked = try c.decodeIfPresent(Revocation.self, forKey: .revoked)
        backupStreampoint = try c.decodeIfPresent(String.self, forKey: .backupStreampoint)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(verifier, forKey: .verifier)
        // Written as null rather than left out, so the file shows the field exists.
        try c.encode(streampoint, forKey: .streampoint)
        // Left out unless set, so registries without revocations read as before.
        try c.encodeIfPresent(revoked, forKey: .revoked)
        try c.encodeIfPresent(backupStreampoint, forKey: .backupStreampoint)
    }
}

/// A copy of the registry in memory: the endpoint's cache of the store, and the
/// slice of rows one store transaction works on. Until the SQL store, it was a
/// JSON file; that format is still read by `import-registry`:
/// `{"version":1,"agents":[{"id":"cam-1","verifier":"<hex>","streampoint":"sp1"}],
///   "units":[{"serial":"XM0001","agentID":"cam-XM0001","activationVerifier":"<hex>",…}]}`.
/// `units` (factory units that may activate, Units.swift) is left out when empty,
/// and files without it load as before.
public struct Registry: Equatable, Sendable {
    public static let formatVersion = 1

    public private(set) var agents: [String: AgentRecord] = [:]
    /// Factory units by serial.
    public private(set) var units: [String: UnitRecord] = [:]
    /// agent id → serial of the unit that activates as that id.
    private(set) var serialByAgentID: [String: String] = [:]

    public init() {}

    public var sortedAgents: [AgentRecord] { agents.values.sorted { $0.id < $1.id } }

    public subscript(id: String) -> AgentRecord? { agents[id] }

    public mutating func upsert(_ record: AgentRecord) { agents[record.id] = record }

    /// Takes over every row of `other` (the rows a store transaction returned).
    public mutating func merge(_ other: Registry) {
        for agent in other.agents.values { upsert(agent) }
        for unit in other.units.values { upsertUnit(unit) }
    }

    public var sortedUnits: [UnitRecord] { units.values.sorted { $0.serial < $1.serial } }

    /// The unit that activates as `agentID`, if any.
    public func unit(agentID: String) -> UnitRecord? { serialByAgentID[agentID].flatMap { units[$0] } }

    /// Adds or replaces a unit. Callers keep agent ids unique across units
    /// (`addUnit` checks it; decoding rejects duplicates).
    public mutating func upsertUnit(_ unit: UnitRecord) {
        if let old = units[unit.serial], old.agentID != unit.agentID { serialByAgentID[old.agentID] = nil }
        units[unit.serial] = unit
        serialByAgentID[unit.agentID] = unit.serial
    }

    /// The verifier bytes of an agent, nil if the agent is unknown.
    public func verifier(for id: String) -> [UInt8]? {
        agents[id].flatMap { Hex.decode($0.verifier) }
    }

    // MARK: file format

    private struct FileFormat: Codable {
        var version: Int
        var agents: [AgentRecord]
        var units: [UnitRecord]?
    }

    /// Parses and validates the file contents. Errors describe the problem
    /// (never a verifier) and name the file.
    public static func decode(_ data: Data, path: String) throws -> Registry {
        let file: FileFormat
        do {
            file = try JSONDecoder().decode(FileFormat.self, from: data)
        } catch let error as DecodingError {
            throw ValidationFailure("registry \(path) is malformed: \(describe(error))")
        } catch {
            throw ValidationFailure("registry \(path) is malformed: \(error.localizedDescription)")
        }
        guard file.version == formatVersion else {
            throw ValidationFailure("registry \(path) has version \(file.version); this endpoint reads version \(formatVersion)")
        }
        var registry = Registry()
        for (index, agent) in file.agents.enumerated() {
            let at = "agents[\(index)]"
            guard Identifier.isValid(agent.id) else {
                throw ValidationFailure("registry \(path): \(at) has an invalid id (must be \(Identifier.rule))")
            }
            guard registry.agents[agent.id] == nil else {
                throw ValidationFailure("registry \(path): agent id \(agent.id) appears more than once")
            }
            guard let bytes = Hex.decode(agent.verifier), bytes.count == SHA256.digestSize else {
                throw ValidationFailure("registry \(path): agent \(agent.id) has a verifier that is not \(SHA256.digestSize * 2) hex digits")
            }
            if let sp = agent.streampoint, !Identifier.isValid(sp) {
                throw ValidationFailure("registry \(path): agent \(agent.id) has an invalid streampoint id (must be \(Identifier.rule))")
            }
            if let sp = agent.backupStreampoint, !Identifier.isValid(sp) {
                throw ValidationFailure("registry \(path): agent \(agent.id) has an invalid backupStreampoint id (must be \(Identifier.rule))")
            }
            registry.agents[agent.id] = agent
        }
        for (index, unit) in (file.units ?? []).enumerated() {
            let at = "units[\(index)]"
            guard Identifier.isValid(unit.serial) else {
                throw ValidationFailure("registry \(path): \(at) has an invalid serial (must be \(Identifier.rule))")
            }
            guard registry.units[unit.serial] == nil else {
                throw ValidationFailure("registry \(path): serial \(unit.serial) appears more than once in units")
            }
            guard Identifier.isValid(unit.agentID) else {
                throw ValidationFailure("registry \(path): unit \(unit.serial) has an invalid agentID (must be \(Identifier.rule))")
            }
            if let other = registry.serialByAgentID[unit.agentID] {
                throw ValidationFailure("registry \(path): units \(other) and \(unit.serial) both have agentID \(unit.agentID)")
            }
            guard let bytes = Hex.decode(unit.activationVerifier), bytes.count == SHA256.digestSize else {
                throw ValidationFailure("registry \(path): unit \(unit.serial) has an activationVerifier that is not \(SHA256.digestSize * 2) hex digits")
            }
            guard unit.activations >= 0 else {
                throw ValidationFailure("registry \(path): unit \(unit.serial) has a negative activations count")
            }
            registry.upsertUnit(unit)
        }
        return registry
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let file = FileFormat(version: Registry.formatVersion, agents: sortedAgents,
                              units: units.isEmpty ? nil : sortedUnits)
        return try encoder.encode(file) + Data("\n".utf8)
    }

    /// Reads a registry file of the old JSON format (`import-registry`).
    public static func importJSON(path: String) throws -> Registry {
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationFailure("cannot import \(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationFailure("cannot read registry \(path)")
        }
        return try decode(data, path: path)
    }
}

/// Readable text for a JSON decoding error: what is wrong and where.
public func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "top level" : text
    }
    switch error {
    case .keyNotFound(let key, let context):
        let parent = path(context.codingPath)
        return "missing field \"\(key.stringValue)\"" + (context.codingPath.isEmpty ? "" : " in \(parent)")
    case .typeMismatch(let type, let context):
        return "\(path(context.codingPath)) should be \(jsonTypeName(type))"
    case .valueNotFound(let type, let context):
        return "\(path(context.codingPath)) is null but should be \(jsonTypeName(type))"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "not valid JSON" }
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

private func jsonTypeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Int.Type, is Double.Type, is UInt16.Type: return "a number"
    case is Bool.Type: return "true or false"
    default:
        let name = "\(type)"
        if name.hasPrefix("Array") { return "an array" }
        return "an object"
    }
}
