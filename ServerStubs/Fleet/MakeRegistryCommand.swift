import ArgumentParser
import CamCore
import CamNIO
import CamProtocol
import Foundation

struct MakeRegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-registry",
        abstract: "Write an endpoint registry enrolling N simulated agents (fast: 10,000 in about a second).",
        discussion: """
            Agent number i (1...N) is <id-prefix><i, six digits>, e.g. fleet-000001.
            Its device key is derived from the seed file (HMAC-SHA256 of the id), so
            `camagent-fleet run` with the same --key-seed and --id-prefix knows every
            key without a file per agent. Like `camagent-endpoint enroll`, the
            registry stores only each agent's verifier, never its key.

            The file is replaced atomically (mode 0600). To enroll other agents as well,
            run `camagent-endpoint enroll --registry FILE ...` afterwards: it adds to the
            file and keeps the fleet.

            Example:
              openssl rand -hex 32 > fleet.seed
              camagent-fleet make-registry --count 10000 --key-seed fleet.seed --out agents.json
            """
    )

    @Option(help: ArgumentHelp("How many agents to enroll (1 to \(FleetIdentity.maxCount)).", valueName: "n"))
    var count: Int

    @Option(help: ArgumentHelp("Registry file to write (the endpoint's --registry).", valueName: "file"))
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
        if let streampoint, !isValidAgentID(streampoint) {
            throw ValidationError("--streampoint \(streampoint): must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
    }

    func run() throws {
        let identity = try loadFleetIdentity(seedFile: keySeed, prefix: idPrefix)
        let started = Date()
        let text = RegistryFile.render(identity: identity, count: count, streampoint: streampoint)
        do {
            try RegistryFile.writeAtomically(text, to: out)
        } catch let failure as ValidationFailure {
            throw ValidationError(failure.description)
        }
        let seconds = Date().timeIntervalSince(started)
        print("fleet: wrote \(out): \(count) agents \(identity.agentID(1)) ... \(identity.agentID(count)) in \(String(format: "%.2f", seconds)) s")
    }
}

/// The endpoint's registry format (ServerStubs/Endpoint/Registry.swift, version 1):
/// `{"version":1,"agents":[{"id":…,"streampoint":…,"verifier":"<hex>"}]}`.
/// Written as text: ids are checked identifiers and verifiers hex, so nothing
/// needs escaping, and 10,000 records take milliseconds.
enum RegistryFile {
    static func render(identity: FleetIdentity, count: Int, streampoint: String?) -> String {
        let streampointJSON = streampoint.map { "\"\($0)\"" } ?? "null"
        var text = "{\n  \"agents\" : [\n"
        text.reserveCapacity(count * 140 + 64)
        for index in 1...count {
            let id = identity.agentID(index)
            text += "    {\n      \"id\" : \"\(id)\",\n      \"streampoint\" : \(streampointJSON),\n"
            text += "      \"verifier\" : \"\(Hex.encode(identity.verifier(agentID: id)))\"\n    }"
            text += index == count ? "\n" : ",\n"
        }
        text += "  ],\n  \"version\" : 1\n}\n"
        return text
    }

    /// Temporary file in the same directory, then rename: readers (a running
    /// endpoint reloads the registry when it changes) never see half a file.
    static func writeAtomically(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).fleet-\(getpid())")
        guard FileManager.default.createFile(atPath: temp.path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw ValidationFailure("cannot write \(temp.path) (does the directory exist and is it writable?)")
        }
        guard rename(temp.path, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp.path)
            throw ValidationFailure("cannot replace \(path): \(reason)")
        }
    }
}

func validateFleetSize(_ count: Int) throws {
    guard (1...FleetIdentity.maxCount).contains(count) else {
        throw ValidationError("--count must be 1 to \(FleetIdentity.maxCount), got \(count)")
    }
}

func validateIDPrefix(_ prefix: String) throws {
    // The prefix plus six digits must still be a valid agent id.
    guard prefix.isEmpty || isValidAgentID(prefix), prefix.utf8.count <= 58 else {
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
