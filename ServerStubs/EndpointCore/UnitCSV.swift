import CamNIO
import CamProtocol
import Foundation

/// One row of the factory CSV (`import-units`).
public struct UnitImport: Equatable, Sendable {
    public var agentID: String?
    public var serial: String
    public var activationSecret: [UInt8]
    public var model: String?
    public var mac: String?

    public init(agentID: String?, serial: String, activationSecret: [UInt8], model: String?, mac: String?) {
        self.agentID = agentID
        self.serial = serial
        self.activationSecret = activationSecret
        self.model = model
        self.mac = mac
    }
}

/// Reads the CSV the factory provisioning tool writes:
/// header `agent_id,serial,activation_secret[,model][,mac]` (columns by name,
/// plus the tool's informational columns, ignored), one unit per line, secrets as hex. No quoting: fields never contain commas.
/// Blank lines and lines starting with `#` are skipped. Errors name the line
/// and column, never a secret.
public enum UnitCSV {
    public static let required = ["agent_id", "serial", "activation_secret"]
    public static let optional = ["model", "mac"]
    /// Columns the provisioning tool (camagent-firmware provision) writes for
    /// the operator; accepted and not stored, so its CSV loads as it is.
    public static let informational = ["firmware", "stream_list_url", "rtsp_path", "snapshot_path"]

    public static func parse(_ text: String, path: String) throws -> [UnitImport] {
        var header: [String]?
        var rows: [UnitImport] = []
        var serials = Set<String>()
        // "\r\n" is one Character in Swift: split on both forms.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            func fail(_ problem: String) -> ValidationFailure { ValidationFailure("\(path) line \(lineNumber): \(problem)") }
            guard let columns = header else {
                let names = fields.map { $0.lowercased() }
                for name in names where !(required + optional + informational).contains(name) {
                    throw fail("unknown column \(bounded(name)); the header is agent_id,serial,activation_secret[,model][,mac]"
                        + " (also accepted, not stored: \(informational.joined(separator: ",")))")
                }
                for name in required where !names.contains(name) {
                    throw fail("the header lacks \(name); it is agent_id,serial,activation_secret[,model][,mac]")
                }
                guard Set(names).count == names.count else { throw fail("a column appears twice in the header") }
                header = names
                continue
            }
            guard fields.count == columns.count else {
                throw fail("\(fields.count) fields, the header has \(columns.count)")
            }
            var values: [String: String] = [:]
            for (name, value) in zip(columns, fields) { values[name] = value }
            let serial = values["serial"]!
            guard Identifier.isValid(serial) else { throw fail("serial must be \(Identifier.rule)") }
            guard serials.insert(serial).inserted else { throw fail("serial \(serial) appears twice") }
            guard let secret = Hex.decode(values["activation_secret"]!), (16...64).contains(secret.count) else {
                throw fail("activation_secret of \(serial) must be 32 to 128 hex digits")
            }
            let agentID = values["agent_id"]!
            if !agentID.isEmpty && !Identifier.isValid(agentID) {
                throw fail("agent_id of \(serial) must be \(Identifier.rule)")
            }
            func optionalValue(_ name: String) -> String? {
                guard let value = values[name], !value.isEmpty else { return nil }
                return value
            }
            rows.append(UnitImport(agentID: agentID.isEmpty ? nil : agentID, serial: serial, activationSecret: secret,
                                   model: optionalValue("model"), mac: optionalValue("mac")))
        }
        guard header != nil else { throw ValidationFailure("\(path): empty; expected the header agent_id,serial,activation_secret[,model][,mac]") }
        return rows
    }
}
