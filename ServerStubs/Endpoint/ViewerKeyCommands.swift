import ArgumentParser
import CamNIO
import CamProtocol
import EndpointCore

// The keys viewer tokens are signed with: kept in the registry, so every
// endpoint sharing it signs alike, and sent down every streampoint channel.
// The secrets are never printed.

struct ViewerKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "viewer-key",
        abstract: "Rotate or list the keys viewer tokens are signed with.",
        discussion: """
            A running endpoint makes the first key itself on a fresh registry. The newest
            key signs (POST /api/agents/ID/viewer-token); the one before it still
            verifies, so tokens issued before a rotation keep working until the next
            rotation or their expiry. Rotating twice takes back every token issued
            before the first rotation. Endpoints sharing the registry pick a rotation
            up within about a second and send the new set down their streampoint
            channels (docs/PROTOCOL.md §16).

            Example:
              camagent-endpoint viewer-key rotate --registry registry.sqlite
            """,
        subcommands: [ViewerKeyRotate.self, ViewerKeyList.self]
    )
}

struct ViewerKeyRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Add a new signing key; keep the one before it for verifying, drop older ones.")

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    func run() throws {
        let keys = try withViewerKeyStore(registry) { store in
            try store.rotateViewerTokenKey(secret: ViewerKeys.newSecret(), at: isoTimestamp(), keep: ViewerKeys.kept)
        }
        let accepted = keys.map { String($0.key.id) }.joined(separator: ", ")
        print("viewer tokens are now signed with key \(keys.first.map { String($0.key.id) } ?? "?"); accepted keys: \(accepted)")
    }
}

struct ViewerKeyList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Key ids and when each was made, newest (the signing one) first; never the secrets.")

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    func run() throws {
        let keys = try withViewerKeyStore(registry) { store in try store.viewerTokenKeys() }
        if keys.isEmpty { print("no viewer-token keys yet (a running endpoint makes the first)") }
        for (index, record) in keys.enumerated() {
            print("\(record.key.id)\t\(record.createdAt)\t\(index == 0 ? "signing" : "verifying only")")
        }
    }
}

func withViewerKeyStore<T>(_ argument: String, _ body: (ViewerKeyStore) throws -> T) throws -> T {
    let store = try SQLRegistryStore.open(RegistryLocation(argument: argument))
    defer { store.close() }
    return try body(store)
}
