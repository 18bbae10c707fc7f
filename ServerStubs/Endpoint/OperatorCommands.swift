import CamProtocol
import ArgumentParser
import CamNIO
import EndpointCore
import Foundation

// The console's operators, kept in the registry. No command prints a stored
// hash; `add` prints the password it generated once, and never logs it.

struct OperatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Manage the web console's operators (stored in the registry).",
        discussion: """
            Operators log in to the console that `serve` offers on its admin listener
            (http://ADMIN/console/). Passwords are stored as PBKDF2-SHA256 hashes
            (210,000 rounds, random salt); removing an operator ends their sessions at
            every endpoint sharing the registry.

            Examples:
              camagent-endpoint operator add --registry registry.sqlite --name alice
              printf '%s' "$PASSWORD" | camagent-endpoint operator add \\
                  --registry registry.sqlite --name bob --password-stdin
              camagent-endpoint operator list --registry registry.sqlite
              camagent-endpoint operator remove --registry registry.sqlite --name bob
            """,
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an operator; prints a generated one-time password unless --password-stdin.",
            discussion: """
                Without --password-stdin a random 20-character password is generated and
                printed once on stdout, as `operator NAME password PASSWORD`; hand it to the
                operator. With --password-stdin the password is read from standard input
                (at least \(OperatorPassword.minimumLength) bytes; one trailing newline is
                dropped) and only `added operator NAME` is printed. An existing name is an
                error: remove it first to set a new password.
                """
        )

        @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
        var registry: String

        @Option(help: ArgumentHelp("The operator's login name: \(Identifier.rule).", valueName: "name"))
        var name: String

        @Flag(help: "Read the password from standard input instead of generating one.")
        var passwordStdin = false

        func validate() throws {
            if let problem = OperatorPassword.nameProblem(name) { throw ValidationError("--name: \(problem)") }
        }

        func run() throws {
            let password: String
            if passwordStdin {
                var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
                if let problem = OperatorPassword.problem(text) { throw ValidationFailure("--password-stdin: \(problem)") }
                password = text
            } else {
                password = OperatorPassword.generate()
            }
            let record = OperatorRecord(name: name, password: try PasswordHash.make(password: password), createdAt: isoTimestamp())
            let added = try withConsoleStore(registry) { store in try store.addOperator(record) }
            guard added else {
                throw ValidationFailure("operator \(name) already exists in \(try RegistryLocation(argument: registry).display); remove it first to set a new password")
            }
            print(passwordStdin ? "added operator \(name)" : "operator \(name) password \(password)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List operators: one `NAME created CREATED_AT` line each, sorted by name.")

        @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
        var registry: String

        func run() throws {
            let operators = try withConsoleStore(registry) { store in try store.operators() }
            for record in operators { print("\(record.name) created \(record.createdAt)") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an operator and end their console sessions.")

        @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
        var registry: String

        @Option(help: ArgumentHelp("The operator's name.", valueName: "name"))
        var name: String

        func validate() throws {
            if let problem = OperatorPassword.nameProblem(name) { throw ValidationError("--name: \(problem)") }
        }

        func run() throws {
            let removed = try withConsoleStore(registry) { store in try store.removeOperator(name: name) }
            guard removed else { throw ValidationFailure("no operator \(name) in \(try RegistryLocation(argument: registry).display)") }
            print("removed operator \(name)")
        }
    }
}

/// Opens the registry's console tables for one CLI command (migrating if needed).
func withConsoleStore<T>(_ argument: String, _ body: (ConsoleStore) throws -> T) throws -> T {
    let store = try SQLRegistryStore.open(RegistryLocation(argument: argument))
    defer { store.close() }
    return try body(store)
}
