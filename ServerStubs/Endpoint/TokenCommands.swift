import ArgumentParser
import CamNIO
import CamProtocol
import EndpointCore

// Bearer tokens for /api/: made, listed and revoked in the registry, so every
// endpoint sharing it accepts the same tokens. Only a token's SHA-256 is
// stored; `token add` shows the token once and nothing shows it again.

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage the bearer tokens that open the endpoint's /api/.",
        discussion: """
            Every request under /api/ needs `Authorization: Bearer <token>`; without a
            valid one it gets 401. Roles:
              admin        all of /api/ (agents, units, commands, streampoints), for
                           operators' scripts, the lab and tests
              streampoint  only /api/streampoint-channel, the WebSocket a streampoint
                           keeps to the endpoint (--endpoint-token-file there)
            Tokens live in the registry, so every endpoint sharing it accepts them; a
            revoked token stops working within about a second.

            Example:
              camagent-endpoint token add --registry registry.sqlite --name ops > ops.token
              curl -H "Authorization: Bearer $(cat ops.token)" http://127.0.0.1:7001/api/agents
            """,
        subcommands: [TokenAdd.self, TokenList.self, TokenRevoke.self]
    )
}

struct TokenAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Make a token and print it once (stdout); only its SHA-256 is stored.",
        discussion: """
            Prints the token alone on one line, `cat_` and 43 characters, so that
            `> FILE` captures it. Keep it like a password: it is shown only now. A name
            is taken once; to replace a token, revoke it and add it again.
            """
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    @Option(help: ArgumentHelp("The token's name, shown in logs and `token list`: \(Identifier.rule).", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("admin (all of /api/) or streampoint (only the streampoint channel).", valueName: "role"))
    var role: APIRole = .admin

    func validate() throws {
        guard Identifier.isValid(name) else { throw ValidationError("--name must be \(Identifier.rule)") }
    }

    func run() throws {
        let token = APIToken.generate()
        let record = APITokenRecord(name: name, role: role, hash: APIToken.hashHex(token), createdAt: isoTimestamp())
        try withRegistry(registry) { store in try store.addAPIToken(record) }
        print(token)
    }
}

struct TokenList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List tokens: name, role, created, last used (never the tokens: they are not stored)."
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    func run() throws {
        let tokens = try withRegistry(registry) { store in try store.apiTokens() }
        guard !tokens.isEmpty else {
            print("no tokens; make one with: camagent-endpoint token add --registry \(registry) --name NAME")
            return
        }
        for token in tokens {
            print("\(token.name)\t\(token.role.rawValue)\tcreated \(token.createdAt)\tlast used \(token.lastUsedAt ?? "never")")
        }
    }
}

struct TokenRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Delete a token: endpoints refuse it within about a second."
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    @Option(help: ArgumentHelp("The token's name.", valueName: "name"))
    var name: String

    func run() throws {
        let found = try withRegistry(registry) { store in try store.revokeAPIToken(name: name) }
        guard found else { throw ValidationFailure("no token named \(LogText.peer(name)) in \(try RegistryLocation(argument: registry).display)") }
        print("revoked token \(name)")
    }
}

extension APIRole: ExpressibleByArgument {}
