import CamProtocol
import Foundation

/// `provision`: one config per unit, and the operator's CSV that
/// `camagent-endpoint import-units` loads.
struct Provisioning {
    struct SerialLine: Equatable {
        var serial: String
        var mac: String?
    }

    /// The serials file: one unit per line, `SERIAL` or `SERIAL,MAC` (or
    /// whitespace instead of the comma); blank lines and `#` comments skipped.
    static func parseSerials(_ text: String, path: String) throws -> [SerialLine] {
        var units: [SerialLine] = []
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            func fail(_ problem: String) -> FirmwareError { FirmwareError("\(path) line \(index + 1): \(problem)") }
            guard fields.count <= 2 else { throw fail("expected SERIAL or SERIAL,MAC") }
            let serial = fields[0]
            // The agent id is cam-SERIAL, at most 64 characters.
            guard Identifier.isValid("cam-" + serial) else {
                throw fail("serial '\(serial.prefix(80))' must be 1-60 characters of A-Z a-z 0-9 . _ -")
            }
            if let first = seen[serial] { throw fail("serial \(serial) appears twice (first on line \(first))") }
            seen[serial] = index + 1
            var mac: String?
            if fields.count == 2 {
                guard fields[1].range(of: "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$", options: .regularExpression) != nil else {
                    throw fail("MAC '\(fields[1].prefix(40))' of \(serial) must look like 00:12:34:56:78:9a")
                }
                mac = fields[1].lowercased().replacingOccurrences(of: "-", with: ":")
            }
            units.append(SerialLine(serial: serial, mac: mac))
        }
        guard !units.isEmpty else { throw FirmwareError("\(path) lists no serials (one per line: SERIAL or SERIAL,MAC)") }
        guard units.count <= 100_000 else { throw FirmwareError("\(path) lists \(units.count) units; at most 100000 per batch") }
        return units
    }

    /// 32 bytes from the system CSPRNG (getrandom(2) on Linux), as hex.
    static func newActivationSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Columns import-units reads (agent_id, serial, activation_secret, model,
    /// mac) first, then the operator's: where to find the unit's streams.
    static let csvHeader = "agent_id,serial,activation_secret,model,mac,firmware,stream_list_url,rtsp_path,snapshot_path"

    var config: AgentConfig
    var model: String
    var firmware: String?
    /// Base URL of the streampoint's admin API, for the stream_list_url column.
    var streampointAdmin: String?

    /// Writes DIR/units/SERIAL.conf and DIR/units.csv, all 0600, DIR 0700.
    /// Refuses an output directory that already holds a batch (no secret is overwritten).
    func write(units: [SerialLine], to directory: String) throws {
        let fm = FileManager.default
        let csvPath = "\(directory)/units.csv", unitsDirectory = "\(directory)/units"
        if fm.fileExists(atPath: csvPath) || fm.fileExists(atPath: unitsDirectory) {
            throw FirmwareError("\(directory) already holds a provisioned batch; choose a new --out (secrets are never overwritten)")
        }
        try fm.createDirectory(atPath: unitsDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(directory, 0o700)
        var csv = Self.csvHeader + "\n"
        for unit in units {
            let secret = Self.newActivationSecret()
            let agentID = "cam-\(unit.serial)"
            let text = config.render(unit: .init(serial: unit.serial, mac: unit.mac, model: model, firmware: firmware, activationSecret: secret))
            try AgentConfig.checkWithAgentParser(text, what: "unit \(unit.serial)'s config")
            try writeFile("\(unitsDirectory)/\(unit.serial).conf", Array(text.utf8), mode: 0o600, exclusive: true)
            let streams = streampointAdmin.map { "\($0)/agents/\(agentID)" } ?? ""
            csv += [agentID, unit.serial, secret, model, unit.mac ?? "", firmware ?? "", streams,
                    config.board.rtspPath, config.board.snapshotPath].joined(separator: ",") + "\n"
        }
        try writeFile(csvPath, Array(csv.utf8), mode: 0o600, exclusive: true)
    }

    static func validate(streampointAdmin: String) throws -> String {
        guard streampointAdmin.range(of: #"^https?://[A-Za-z0-9._:\[\]-]+(:[0-9]{1,5})?/?$"#, options: .regularExpression) != nil else {
            throw FirmwareError("--streampoint-admin \(streampointAdmin): expected http(s)://host[:port] of the streampoint's admin API")
        }
        return streampointAdmin.hasSuffix("/") ? String(streampointAdmin.dropLast()) : streampointAdmin
    }
}
