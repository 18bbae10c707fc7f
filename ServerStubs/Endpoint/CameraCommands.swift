import ArgumentParser
import CamNIO
import CamProtocol
import EndpointCore
import Foundation

// How streampoints pull each camera target: its RTSP path and credentials,
// kept in the registry and sent down every streampoint channel. A password is
// read from a file or standard input, never from the command line (where
// `ps` and shell history would show it), and never printed.

struct CameraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camera",
        abstract: "Camera settings kept by the servers (never by viewers).",
        subcommands: [CameraMediaCommand.self]
    )
}

struct CameraMediaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Set, show or clear a camera target's RTSP path and credentials.",
        discussion: """
            A streampoint pulls a camera target at rtsp://<target host:port><path>, the
            path being the one set here, else the one the agent announced, else /. When
            the camera answers 401 it answers with these credentials (MD5 Digest, or
            Basic when that is all the camera offers). Endpoints sharing the registry
            pick a change up within about a second and send it to their streampoints
            (docs/PROTOCOL.md §15.2 cameraMedia); the same is in the API at
            /api/agents/ID/targets/TARGET/media.

            Examples:
              camagent-endpoint camera media set --registry registry.sqlite --agent cam-1 \\
                  --target rtsp --path /Streaming/Channels/101 --username admin --password-file cam-1.pass
              printf '%s' "$PASSWORD" | camagent-endpoint camera media set --registry registry.sqlite \\
                  --agent cam-1 --target rtsp --username admin --password-stdin
              camagent-endpoint camera media show --registry registry.sqlite --agent cam-1
              camagent-endpoint camera media clear --registry registry.sqlite --agent cam-1 --target rtsp
            """,
        subcommands: [SetSettings.self, ShowSettings.self, ClearSettings.self]
    )

    struct SetSettings: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Replace a target's settings: path and/or username with a password.",
            discussion: """
                What is not given is not kept, except the password: with --username and
                neither --password-file nor --password-stdin, the stored password stays.
                The password file's one trailing newline is dropped; an empty password is
                allowed. Prints the settings as `show` does (never the password).
                """)

        @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
        var registry: String

        @Option(help: ArgumentHelp("The agent's id.", valueName: "id"))
        var agent: String

        @Option(help: ArgumentHelp("The agent's target name, e.g. rtsp.", valueName: "name"))
        var target: String

        @Option(help: ArgumentHelp("The RTSP path to pull, e.g. /Streaming/Channels/101.", valueName: "path"))
        var path: String?

        @Option(help: ArgumentHelp("The camera's RTSP user.", valueName: "name"))
        var username: String?

        @Option(help: ArgumentHelp("A file holding the camera's RTSP password.", valueName: "file"))
        var passwordFile: String?

        @Flag(help: "Read the camera's RTSP password from standard input.")
        var passwordStdin = false

        func validate() throws {
            try validateNames(agent: agent, target: target)
            if path == nil && username == nil { throw ValidationError("give --path and/or --username (clear removes the settings)") }
            if let path, let problem = CameraMediaRules.pathProblem(path) { throw ValidationError("--path: \(problem)") }
            if let username, let problem = CameraMediaRules.usernameProblem(username) { throw ValidationError("--username: \(problem)") }
            if passwordFile != nil && passwordStdin { throw ValidationError("give --password-file or --password-stdin, not both") }
            if username == nil && (passwordFile != nil || passwordStdin) { throw ValidationError("a password needs --username") }
        }

        func run() throws {
            var password = CameraPasswordChange.keep
            if let passwordFile {
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: passwordFile)) } catch {
                    throw ValidationFailure("cannot read --password-file \(passwordFile): \(error.localizedDescription)")
                }
                password = .set(try Self.password(from: data, source: "--password-file"))
            } else if passwordStdin {
                password = .set(try Self.password(from: FileHandle.standardInput.readDataToEndOfFile(), source: "--password-stdin"))
            }
            let record = try withCameraMediaStore(registry) { store -> CameraMediaRecord in
                guard let record = try store.setCameraMedia(agentID: agent, target: target, path: path, username: username,
                                                            password: password, at: isoTimestamp()) else {
                    throw ValidationFailure("unknown agent \(agent) in \(try RegistryLocation(argument: registry).display)")
                }
                try? (store as? ConsoleStore)?.appendAudit(auditEntry("camera-media-set"))
                return record
            }
            print(ShowSettings.line(agentID: agent, target: target, record: record))
        }

        private func auditEntry(_ action: String) -> AuditEntry {
            AuditEntry(at: isoTimestamp(), actor: "cli", action: action, target: "\(agent)/\(target)", result: "ok")
        }

        static func password(from data: Data, source: String) throws -> String {
            guard var text = String(data: data, encoding: .utf8) else { throw ValidationFailure("\(source): the password is not UTF-8") }
            if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
            if let problem = CameraMediaRules.passwordProblem(text) { throw ValidationFailure("\(source): \(problem)") }
            return text
        }
    }

    struct ShowSettings: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "One line per target with settings: AGENT/TARGET path PATH user USER password set|none.")

        @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
        var registry: String

        @Option(help: ArgumentHelp("Only this agent's targets.", valueName: "id"))
        var agent: String?

        @Option(help: ArgumentHelp("Only this target (with --agent).", valueName: "name"))
        var target: String?

        func validate() throws {
            if target != nil && agent == nil { throw ValidationError("--target needs --agent") }
        }

        func run() throws {
            let records = try withCameraMediaStore(registry) { store in try store.cameraMediaSettings() }
                .filter { record in
                    (agent == nil || record.settings.agentID == agent) && (target == nil || record.settings.target == target)
                }
            if records.isEmpty { print("no camera media settings" + (agent.map { " for \($0)" } ?? "")) }
            for record in records {
                print(Self.line(agentID: record.settings.agentID, target: record.settings.target, record: record))
            }
        }

        static func line(agentID: String, target: String, record: CameraMediaRecord) -> String {
            let settings = record.settings
            return "\(agentID)/\(target) path \(settings.path ?? "(agent's)") user \(settings.credentials?.username ?? "(none)")"
                + " password \(settings.credentials == nil ? "none" : "set") updated \(record.updatedAt)"
        }
    }

    struct ClearSettings: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove a target's path and credentials.")

        @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
        var registry: String

        @Option(help: ArgumentHelp("The agent's id.", valueName: "id"))
        var agent: String

        @Option(help: ArgumentHelp("The agent's target name.", valueName: "name"))
        var target: String

        func validate() throws { try validateNames(agent: agent, target: target) }

        func run() throws {
            let cleared = try withCameraMediaStore(registry) { store -> Bool in
                let cleared = try store.clearCameraMedia(agentID: agent, target: target)
                if cleared {
                    try? (store as? ConsoleStore)?.appendAudit(AuditEntry(at: isoTimestamp(), actor: "cli", action: "camera-media-clear",
                                                                         target: "\(agent)/\(target)", result: "ok"))
                }
                return cleared
            }
            print(cleared ? "cleared \(agent)/\(target)" : "\(agent)/\(target) had no settings")
        }
    }
}

private func validateNames(agent: String, target: String) throws {
    guard Identifier.isValid(agent) else { throw ValidationError("--agent must be \(Identifier.rule)") }
    guard Identifier.isValid(target) else { throw ValidationError("--target must be \(Identifier.rule)") }
}

func withCameraMediaStore<T>(_ argument: String, _ body: (CameraMediaStore) throws -> T) throws -> T {
    let store = try SQLRegistryStore.open(RegistryLocation(argument: argument))
    defer { store.close() }
    return try body(store)
}
