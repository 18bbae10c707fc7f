import CamNIO
import CamProtocol
import Foundation

/// An operator's revocation of an agent or unit.
public struct Revocation: Codable, Equatable, Sendable {
    public init(reason: String, at: String?) {
        self.reason = reason
        self.at = at
    }

    public var reason: String
    /// ISO 8601 UTC, or nil if not recorded (a hand-edited registry).
    public var at: String?

    /// Reasons are shown to the unit in ERROR(revoked) and in logs: one line of
    /// printable text, bounded.
    public static let maxReasonCharacters = 200

    public static func validate(reason: String) -> String? {
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { return "the reason must not be empty" }
        if reason.count > maxReasonCharacters { return "the reason must be at most \(maxReasonCharacters) characters" }
        if reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "the reason must be one line without control characters"
        }
        return nil
    }

    /// The text of ERROR(revoked), as the agent logs it.
    public var errorText: String { "agent revoked by operator: \(String(reason.prefix(Revocation.maxReasonCharacters)))" }
}

/// A factory unit that may activate: it proves knowledge of its activation
/// secret and receives `agentID` and a fresh device key. Only the verifier of
/// the secret is stored (Activation.verifier(activationSecret:serial:)).
public struct UnitRecord: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable {
        /// Never activated.
        case new
        /// Activated at least once; may activate again while its agent is offline (factory reset).
        case active
        /// Refused by the operator (`revoked` holds the reason).
        case revoked
    }

    public var serial: String
    /// Hex of Activation.verifier(activationSecret:serial:).
    public var activationVerifier: String
    /// The agent id the unit gets: from the import, or "cam-<serial>".
    public var agentID: String
    public var model: String?
    public var mac: String?
    public var state: State
    public var activations: Int
    /// ISO 8601 UTC of the last successful activation.
    public var lastActivation: String?
    /// Set when the serial activated while its agent was online, or the agent
    /// authenticated from a second address while online: a cloned unit, probably.
    public var cloneSuspected: Bool
    /// The reason while `state` is `revoked`.
    public var revoked: Revocation?

    public init(serial: String, activationVerifier: String, agentID: String, model: String? = nil, mac: String? = nil) {
        self.serial = serial
        self.activationVerifier = activationVerifier
        self.agentID = agentID
        self.model = model
        self.mac = mac
        self.state = .new
        self.activations = 0
        self.lastActivation = nil
        self.cloneSuspected = false
        self.revoked = nil
    }

    private enum CodingKeys: String, CodingKey {
        case serial, activationVerifier, agentID, model, mac, state, activations, lastActivation, cloneSuspected, revoked
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serial = try c.decode(String.self, forKey: .serial)
        activationVerifier = try c.decode(String.self, forKey: .activationVerifier)
        agentID = try c.decode(String.self, forKey: .agentID)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        mac = try c.decodeIfPresent(String.self, forKey: .mac)
        state = try c.decodeIfPresent(State.self, forKey: .state) ?? .new
        activations = try c.decodeIfPresent(Int.self, forKey: .activations) ?? 0
        lastActivation = try c.decodeIfPresent(String.self, forKey: .lastActivation)
        cloneSuspected = try c.decodeIfPresent(Bool.self, forKey: .cloneSuspected) ?? false
        revoked = try c.decodeIfPresent(Revocation.self, forKey: .revoked)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(serial, forKey: .serial)
        try c.encode(activationVerifier, forKey: .activationVerifier)
        try c.encode(agentID, forKey: .agentID)
        try c.encode(model, forKey: .model)
        try c.encode(mac, forKey: .mac)
        try c.encode(state, forKey: .state)
        try c.encode(activations, forKey: .activations)
        try c.encode(lastActivation, forKey: .lastActivation)
        try c.encode(cloneSuspected, forKey: .cloneSuspected)
        try c.encodeIfPresent(revoked, forKey: .revoked)
    }

    /// The default agent id of a serial, if it makes a valid id.
    public static func defaultAgentID(serial: String) -> String? {
        let id = "cam-" + serial
        return Identifier.isValid(id) ? id : nil
    }
}

/// What a unit reported in ACTIVATE_BEGIN. Peer text: stored only if it looks sane.
public struct ActivationRequest: Equatable, Sendable {
    public var serial: String
    public var mac: String
    public var model: String
    public var firmware: String

    public init(serial: String, mac: String, model: String, firmware: String) {
        self.serial = serial
        self.mac = mac
        self.model = model
        self.firmware = firmware
    }
}

/// A device key on its way to the unit. Its description never shows the bytes,
/// so printing an action or outcome cannot leak it into a log.
public struct IssuedKey: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { "<\(bytes.count)-byte key>" }
    public var debugDescription: String { description }
}

/// The endpoint's decision on an activation whose proof checked out.
public enum ActivationOutcome: Equatable, Sendable {
    case issued(agentID: String, key: IssuedKey, reactivated: Bool)
    /// `reason` is for the log; `text` goes to the unit.
    case refused(code: ErrorCode, text: String, reason: String)
}

extension Registry {
    /// Why `agentID` is revoked, if it is: its own record, or its unit's.
    public func revocation(ofAgent agentID: String) -> Revocation? {
        if let revoked = agents[agentID]?.revoked { return revoked }
        if let unit = unit(agentID: agentID) { return revocation(of: unit) }
        return nil
    }

    /// Why a unit is revoked: the unit itself, or the agent it activates as.
    public func revocation(of unit: UnitRecord) -> Revocation? {
        if unit.state == .revoked { return unit.revoked ?? Revocation(reason: "no reason recorded", at: nil) }
        return agents[unit.agentID]?.revoked
    }

    public func activationVerifier(serial: String) -> [UInt8]? {
        units[serial].flatMap { Hex.decode($0.activationVerifier) }
    }

    /// Decides an activation whose proof was correct, and records it. Pure:
    /// `newKey` is the fresh device key to issue, `isOnline` tells whether an
    /// agent id has a live session, `at` is the ISO 8601 time to record.
    ///
    /// - revoked unit or agent → refused (revoked), nothing changes;
    /// - agent online right now → refused (identity-conflict), the unit is
    ///   flagged cloneSuspected, the online session is not touched;
    /// - otherwise the unit is active, its agent's verifier is replaced by that
    ///   of `newKey` (an older key stops working), activations += 1.
    public mutating func activate(_ request: ActivationRequest, newKey: [UInt8], isOnline: (String) -> Bool,
                           at: String) -> ActivationOutcome {
        guard var unit = units[request.serial] else {
            // The registry changed between challenge and proof.
            return .refused(code: .authenticationFailed, text: "activation failed",
                            reason: "unit \(request.serial) was removed from the registry during activation")
        }
        if let revocation = revocation(of: unit) {
            return .refused(code: .revoked, text: revocation.errorText,
                            reason: "unit \(unit.serial) (agent \(unit.agentID)) is revoked: \(bounded(revocation.reason))")
        }
        if isOnline(unit.agentID) {
            unit.cloneSuspected = true
            upsertUnit(unit)
            return .refused(code: .identityConflict, text: "serial \(unit.serial) is already online from another unit",
                            reason: "serial \(unit.serial) tried to activate while its agent \(unit.agentID) is online: clone suspected")
        }
        let reactivated = unit.activations > 0 || unit.state == .active
        unit.state = .active
        unit.activations += 1
        unit.lastActivation = at
        if unit.mac == nil, let mac = Self.sane(request.mac) { unit.mac = mac }
        if unit.model == nil, let model = Self.sane(request.model) { unit.model = model }
        upsertUnit(unit)
        var record = agents[unit.agentID] ?? AgentRecord(id: unit.agentID, verifier: "", streampoint: nil)
        record.verifier = Hex.encode(Authentication.verifier(deviceKey: newKey, agentID: unit.agentID))
        upsert(record)
        return .issued(agentID: unit.agentID, key: IssuedKey(bytes: newKey), reactivated: reactivated)
    }

    /// Peer-reported text worth keeping: 1–64 printable ASCII characters.
    public static func sane(_ text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= 64, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return text
    }

    public enum RevocationChange: Equatable, Sendable {
        case unknown
        case changed
        case unchanged
    }

    /// Revokes the agent id and the unit that activates as it. `.unknown` if
    /// neither exists.
    public mutating func revoke(agentID: String, reason: String, at: String) -> RevocationChange {
        let revocation = Revocation(reason: reason, at: at)
        var found = false
        let before = self
        if var record = agents[agentID] {
            record.revoked = revocation
            upsert(record)
            found = true
        }
        if var unit = unit(agentID: agentID) {
            unit.state = .revoked
            unit.revoked = revocation
            upsertUnit(unit)
            found = true
        }
        guard found else { return .unknown }
        return before == self ? .unchanged : .changed
    }

    /// Lifts a revocation; the unit goes back to active (or new if it never activated).
    public mutating func unrevoke(agentID: String) -> RevocationChange {
        var found = false
        let before = self
        if var record = agents[agentID] {
            record.revoked = nil
            upsert(record)
            found = true
        }
        if var unit = unit(agentID: agentID) {
            if unit.state == .revoked { unit.state = unit.activations > 0 ? .active : .new }
            unit.revoked = nil
            upsertUnit(unit)
            found = true
        }
        guard found else { return .unknown }
        return before == self ? .unchanged : .changed
    }

    /// Flags the unit of `agentID` as a suspected clone; false if it has no unit
    /// or is flagged already.
    public mutating func flagClone(agentID: String) -> Bool {
        guard var unit = unit(agentID: agentID), !unit.cloneSuspected else { return false }
        unit.cloneSuspected = true
        upsertUnit(unit)
        return true
    }

    /// Adds a unit, or updates the secret, model and MAC of an existing serial.
    /// Only the verifier of the secret is kept.
    public mutating func addUnit(serial: String, activationSecret: [UInt8], agentID: String?, model: String?, mac: String?) throws {
        guard Identifier.isValid(serial) else { throw ValidationFailure("serial \(bounded(serial)) must be \(Identifier.rule)") }
        guard (16...64).contains(activationSecret.count) else {
            throw ValidationFailure("unit \(serial): the activation secret must be 16 to 64 bytes (32 to 128 hex digits)")
        }
        let existing = units[serial]
        guard let id = agentID ?? existing?.agentID ?? UnitRecord.defaultAgentID(serial: serial) else {
            throw ValidationFailure("unit \(serial): cam-\(serial) is too long for an agent id; give one (\(Identifier.rule))")
        }
        guard Identifier.isValid(id) else { throw ValidationFailure("unit \(serial): agent id \(bounded(id)) must be \(Identifier.rule)") }
        if let other = serialByAgentID[id], other != serial {
            throw ValidationFailure("unit \(serial): agent id \(id) already belongs to unit \(other)")
        }
        if let existing, existing.agentID != id, existing.activations > 0 {
            throw ValidationFailure("unit \(serial) already activated as \(existing.agentID); it cannot change its agent id")
        }
        if let model, Self.sane(model) == nil { throw ValidationFailure("unit \(serial): model must be 1 to 64 printable ASCII characters") }
        if let mac, Self.sane(mac) == nil { throw ValidationFailure("unit \(serial): mac must be 1 to 64 printable ASCII characters") }
        var unit = existing ?? UnitRecord(serial: serial, activationVerifier: "", agentID: id)
        unit.agentID = id
        unit.activationVerifier = Hex.encode(Activation.verifier(activationSecret: activationSecret, serial: serial))
        if let model { unit.model = model }
        if let mac { unit.mac = mac }
        upsertUnit(unit)
    }
}

