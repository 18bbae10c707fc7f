import ArgumentParser
import CamNIO
import CamProtocol
import Foundation

// Registry commands for factory units and revocation. Each loads the registry,
// changes it and saves it atomically; a running endpoint picks the change up
// within a second. None prints a secret or a verifier.

struct AddUnit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-unit",
        abstract: "Add a factory unit that may activate, or update its activation secret.",
        discussion: """
            Reads the unit's activation secret (hex, 16 to 64 bytes: the same secret
            its factory config holds as activation_secret) and stores only its
            verifier. On first contact the unit proves the secret and receives its
            agent id (--agent-id, default cam-SERIAL) and a fresh device key.

            Adding an existing serial again replaces its secret (and model/MAC if
            given); its state and activation count are kept.

            Example:
              openssl rand -hex 32 > XM0001.secret
              camagent-endpoint add-unit --registry agents.json --serial XM0001 \\
                  --activation-secret-file XM0001.secret --model IPC-3518
            Prints `added unit XM0001 (agent cam-XM0001)`.
            """
    )

    @Option(help: ArgumentHelp("Agent registry (JSON); created if missing.", valueName: "file"))
    var registry: String

    @Option(help: ArgumentHelp("The unit's serial: \(Identifier.rule).", valueName: "serial"))
    var serial: String

    @Option(help: ArgumentHelp("File with the unit's activation secret as hex (16 to 64 bytes).", valueName: "file"))
    var activationSecretFile: String

    @Option(help: ArgumentHelp("Agent id the unit gets (default cam-SERIAL).", valueName: "id"))
    var agentId: String?

    @Option(help: "Model, for the operator's records.")
    var model: String?

    @Option(help: "MAC address, for the operator's records.")
    var mac: String?

    func validate() throws {
        guard Identifier.isValid(serial) else { throw ValidationError("--serial must be \(Identifier.rule)") }
        if let agentId, !Identifier.isValid(agentId) { throw ValidationError("--agent-id must be \(Identifier.rule)") }
    }

    func run() throws {
        let secret = try readHexSecret(path: activationSecretFile)
        guard secret.count <= 64 else { throw ValidationFailure("activation secret file \(activationSecretFile) must hold at most 64 bytes as hex") }
        var contents = try Registry.load(path: registry).registry
        try contents.addUnit(serial: serial, activationSecret: secret, agentID: agentId, model: model, mac: mac)
        try contents.save(path: registry)
        print("added unit \(serial) (agent \(contents.units[serial]!.agentID))")
    }
}

struct ImportUnits: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-units",
        abstract: "Add factory units from the provisioning CSV.",
        discussion: """
            The CSV has a header naming its columns, then one unit per line:
              agent_id,serial,activation_secret[,model][,mac]
              cam-0001,XM0001,<64 hex digits>,IPC-3518,00:12:34:56:78:9a
              ,XM0002,<64 hex digits>,IPC-3518,00:12:34:56:78:9b
            An empty agent_id means cam-SERIAL. The columns firmware, stream_list_url,
            rtsp_path and snapshot_path (written by `Scripts/firmware provision`) are
            accepted and not stored. Blank lines and lines starting with
            # are ignored; fields cannot contain commas (no quoting). Only the
            verifiers of the secrets are stored. Either every row is imported or,
            on the first bad row (reported by line number), none.

            Prints `imported N units`.
            """
    )

    @Option(help: ArgumentHelp("Agent registry (JSON); created if missing.", valueName: "file"))
    var registry: String

    @Option(help: ArgumentHelp("The provisioning CSV.", valueName: "file"))
    var csv: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: csv) else { throw ValidationFailure("cannot read \(csv)") }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationFailure("\(csv) is not UTF-8 text") }
        let rows = try UnitCSV.parse(text, path: csv)
        var contents = try Registry.load(path: registry).registry
        for row in rows {
            try contents.addUnit(serial: row.serial, activationSecret: row.activationSecret, agentID: row.agentID,
                                 model: row.model, mac: row.mac)
        }
        try contents.save(path: registry)
        print("imported \(rows.count) units")
    }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke an agent: the endpoint refuses it (and its unit's activation) with the reason.",
        discussion: """
            The agent is told `agent revoked by operator: REASON` (ERROR revoked), but
            only after it proved its key, so the reason is not shown to impostors. A
            running endpoint closes the agent's live session within a second. The
            admin API does the same at once: POST /agents/ID/revoke {"reason":"…"}.
            Undo with `unrevoke`.

            Example:
              camagent-endpoint revoke --registry agents.json --id cam-XM0001 \\
                  --reason "reported stolen"
            Prints `revoked cam-XM0001`.
            """
    )

    @Option(help: ArgumentHelp("Agent registry (JSON).", valueName: "file"))
    var registry: String

    @Option(help: ArgumentHelp("Agent id (of an enrolled agent or of a unit).", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("Why; shown to the agent and in logs (one line, at most \(Revocation.maxReasonCharacters) characters).", valueName: "text"))
    var reason: String

    func validate() throws {
        guard Identifier.isValid(id) else { throw ValidationError("--id must be \(Identifier.rule)") }
        if let problem = Revocation.validate(reason: reason) { throw ValidationError("--reason: \(problem)") }
    }

    func run() throws {
        var contents = try Registry.load(path: registry).registry
        guard contents.revoke(agentID: id, reason: reason, at: isoTimestamp()) != .unknown else {
            throw ValidationFailure("no agent or unit with id \(id) in \(registry)")
        }
        try contents.save(path: registry)
        print("revoked \(id)")
    }
}

struct Unrevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift a revocation.",
        discussion: "Example: camagent-endpoint unrevoke --registry agents.json --id cam-XM0001"
    )

    @Option(help: ArgumentHelp("Agent registry (JSON).", valueName: "file"))
    var registry: String

    @Option(help: ArgumentHelp("Agent id.", valueName: "id"))
    var id: String

    func validate() throws {
        guard Identifier.isValid(id) else { throw ValidationError("--id must be \(Identifier.rule)") }
    }

    func run() throws {
        var contents = try Registry.load(path: registry).registry
        guard contents.unrevoke(agentID: id) != .unknown else {
            throw ValidationFailure("no agent or unit with id \(id) in \(registry)")
        }
        try contents.save(path: registry)
        print("unrevoked \(id)")
    }
}
