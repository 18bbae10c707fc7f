import ArgumentParser
import CamNIO
import CamProtocol
import EndpointCore
import Foundation

// Registry commands for factory units and revocation. Each is one transaction
// on the registry store, safe while endpoints run; they pick the change up
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
              camagent-endpoint add-unit --registry registry.sqlite --serial XM0001 \\
                  --activation-secret-file XM0001.secret --model IPC-3518
            Prints `added unit XM0001 (agent cam-XM0001)`.
            """
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
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
        let change = try withRegistry(registry) { store in
            try store.addUnits([UnitImport(agentID: agentId, serial: serial, activationSecret: secret, model: model, mac: mac)])
        }
        print("added unit \(serial) (agent \(change.result[0].agentID))")
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

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    @Option(help: ArgumentHelp("The provisioning CSV.", valueName: "file"))
    var csv: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: csv) else { throw ValidationFailure("cannot read \(csv)") }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationFailure("\(csv) is not UTF-8 text") }
        let rows = try UnitCSV.parse(text, path: csv)
        try withRegistry(registry) { store in _ = try store.addUnits(rows) }
        print("imported \(rows.count) units")
    }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke an agent: the endpoint refuses it (and its unit's activation) with the reason.",
        discussion: """
            The agent is told `agent revoked by operator: REASON` (ERROR revoked), but
            only after it proved its key, so the reason is not shown to impostors. A
            running endpoint (at whichever endpoint the agent is online) closes its live
            session within a second, and every endpoint refuses its next login. The
            API does the same at once: POST /api/agents/ID/revoke {"reason":"…"}.
            Undo with `unrevoke`.

            Example:
              camagent-endpoint revoke --registry registry.sqlite --id cam-XM0001 \\
                  --reason "reported stolen"
            Prints `revoked cam-XM0001`.
            """
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
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
        let change = try withRegistry(registry) { store in try store.revoke(agentID: id, reason: reason, at: isoTimestamp()) }
        guard change.result != .unknown else { throw ValidationFailure("no agent or unit with id \(id) in \(registry)") }
        print("revoked \(id)")
    }
}

struct Unrevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift a revocation.",
        discussion: "Example: camagent-endpoint unrevoke --registry registry.sqlite --id cam-XM0001"
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    @Option(help: ArgumentHelp("Agent id.", valueName: "id"))
    var id: String

    func validate() throws {
        guard Identifier.isValid(id) else { throw ValidationError("--id must be \(Identifier.rule)") }
    }

    func run() throws {
        let change = try withRegistry(registry) { store in try store.unrevoke(agentID: id) }
        guard change.result != .unknown else { throw ValidationFailure("no agent or unit with id \(id) in \(registry)") }
        print("unrevoked \(id)")
    }
}

struct ImportRegistry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-registry",
        abstract: "Import an old JSON registry (agents.json) into a SQLite or PostgreSQL registry.",
        discussion: """
            Endpoints used to keep their registry in a JSON file rewritten whole; JSON
            is now only an import format. Every agent and unit of the file is copied
            in one transaction (all or none); rows with the same id or serial are
            replaced. Verifiers are copied as they are, so agents and units keep
            their keys.

            Example:
              camagent-endpoint import-registry --from agents.json \\
                  --registry /var/lib/camagent/registry.sqlite
            Prints `imported N agents and M units into REGISTRY`.
            """
    )

    @Option(help: ArgumentHelp("The JSON registry to import.", valueName: "file"))
    var from: String

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    func run() throws {
        let imported = try Registry.importJSON(path: from)
        try withRegistry(registry) { store in _ = try store.importRegistry(imported) }
        print("imported \(imported.agents.count) agents and \(imported.units.count) units into \(try RegistryLocation(argument: registry).display)")
    }
}

/// Opens the registry for one CLI command (migrating it if needed), runs
/// `body`, and closes it.
func withRegistry<T>(_ argument: String, _ body: (RegistryStore) throws -> T) throws -> T {
    let store = try SQLRegistryStore.open(RegistryLocation(argument: argument))
    defer { store.close() }
    return try body(store)
}
