import ArgumentParser
import CamCore
import CamNIO
import CamProtocol
import EndpointCore
import Foundation

struct MakeRegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-registry",
        abstract: "Enroll N simulated agents in an endpoint registry (SQLite or PostgreSQL; 10,000 in about a second).",
        discussion: """
            Agent number i (1...N) is <id-prefix><i, six digits>, e.g. fleet-000001.
            Its device key is derived from the seed file (HMAC-SHA256 of the id), so
            `camagent-fleet run` with the same --key-seed and --id-prefix knows every
            key without a file per agent. Like `camagent-endpoint enroll`, the
            registry stores only each agent's verifier, never its key.

            The agents are written in one transaction through the endpoint's own
            registry store; other agents and units already there are kept (a SQLite
            registry is created if missing). `--out` takes what the endpoint's
            --registry takes.

            Example:
              openssl rand -hex 32 > fleet.seed
              camagent-fleet make-registry --count 10000 --key-seed fleet.seed --out registry.sqlite
            """
    )

    @Option(help: ArgumentHelp("How many agents to enroll (1 to \(FleetIdentity.maxCount)).", valueName: "n"))
    var count: Int

    @Option(help: ArgumentHelp("The endpoint's --registry: a SQLite file or a postgres:// URL.", valueName: "file|postgres-url"))
    var out: String

    @Option(help: ArgumentHelp("File with a hex secret (at least 16 bytes) all device keys are derived from; `run` needs the same file.", valueName: "file"))
    var keySeed: String

    @Option(help: ArgumentHelp("Agent id prefix; ids are PREFIX000001, PREFIX000002, ...", valueName: "text"))
    var idPrefix: String = FleetIdentity.defaultPrefix

    @Option(help: ArgumentHelp("Streampoint id to assign every agent (default: the endpoint's default streampoint).", valueName: "id"))
    var streampoint: String?

    func validate() throws {
        try validateFleetSize(count)
        try validateIDPrefix(idPrefix)
        if let streampoint, !Identifier.isValid(streampoint) {
            throw ValidationError("--streampoint \(streampoint): must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
    }

    func run() throws {
        let identity = try loadFleetIdentity(seedFile: keySeed, prefix: idPrefix)
        let started = Date()
        var agents = Registry()
        for index in 1...count {
            let id = identity.agentID(index)
            agents.upsert(AgentRecord(id: id, verifier: Hex.encode(identity.verifier(agentID: id)), streampoint: streampoint))
        }
        do {
            let store = try SQLRegistryStore.open(RegistryLocation(argument: out))
            defer { store.close() }
            _ = try store.importRegistry(agents)
        } catch let failure as ValidationFailure {
            throw ValidationError(failure.description)
        }
        let seconds = Date().timeIntervalSince(started)
        print("fleet: enrolled in \(out): \(count) agents \(identity.agentID(1)) ... \(identity.agentID(count)) in \(String(format: "%.2f", seconds)) s")
    }
}

func validateFleetSize(_ count: Int) throws {
    guard (1...FleetIdentity.maxCount).contains(count) else {
        throw ValidationError("--count must be 1 to \(FleetIdentity.maxCount), got \(count)")
    }
}

func validateIDPrefix(_ prefix: String) throws {
    // The prefix plus six digits must still be a valid agent id.
    guard prefix.isEmpty || Identifier.isValid(prefix), prefix.utf8.count <= 58 else {
        throw ValidationError("--id-prefix must be at most 58 characters of A-Z a-z 0-9 . _ -")
    }
}

func loadFleetIdentity(seedFile: String, prefix: String) throws -> FleetIdentity {
    do {
        return FleetIdentity(seed: try readHexSecret(path: seedFile), prefix: prefix)
    } catch let failure as ValidationFailure {
        throw ValidationError("--key-seed: \(failure.description)")
    }
}
