import CamNIO
import Foundation

/// Where `--registry` points: a SQLite file (the embedded default) or a
/// PostgreSQL server shared by several endpoints.
public enum RegistryLocation: Equatable, Sendable {
    case sqlite(path: String)
    case postgres(Postgres)

    public struct Postgres: Equatable, Sendable {
        public var user: String
        public var password: String?
        public var host: String
        public var port: Int
        public var database: String
        /// A server on this host reached through its unix socket instead of TCP.
        public var unixSocketPath: String?

        /// The server for logs: never the password.
        public var display: String {
            let place = unixSocketPath ?? HostPort(host: host, port: port).description
            return "postgres://\(user)@\(place)/\(database)"
        }
    }

    public static let syntax = "a SQLite file (e.g. /var/lib/camagent/registry.sqlite), postgres://USER[:PASSWORD]@HOST[:PORT]/DB, or postgres://USER@/DB?host=/SOCKET/DIR"

    public static let help = """
        The agent registry: a SQLite file (created if missing; a main and a backup \
        endpoint on one host may share it), or postgres://USER[:PASSWORD]@HOST[:PORT]/DB \
        (or postgres://USER@/DB?host=SOCKET_DIR) for endpoints on several hosts. \
        Old JSON registries are imported with `import-registry`.
        """

    public init(argument: String) throws {
        if argument.hasPrefix("postgres://") || argument.hasPrefix("postgresql://") {
            self = .postgres(try Self.parsePostgres(argument))
            return
        }
        if let scheme = argument.range(of: "://") {
            throw ValidationFailure("--registry \(argument): unknown scheme \(argument[..<scheme.lowerBound])://; give \(Self.syntax)")
        }
        guard !argument.isEmpty else { throw ValidationFailure("--registry must not be empty; give \(Self.syntax)") }
        if argument.lowercased().hasSuffix(".json") {
            throw ValidationFailure("""
                --registry \(argument): JSON registries are no longer read by serve and the registry \
                commands; import it once into SQLite (or PostgreSQL), then use that: \
                camagent-endpoint import-registry --from \(argument) --registry registry.sqlite
                """)
        }
        self = .sqlite(path: argument)
    }

    private static func parsePostgres(_ argument: String) throws -> Postgres {
        func fail(_ problem: String) -> ValidationFailure {
            ValidationFailure("--registry: \(problem); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DB or postgres://USER@/DB?host=/SOCKET/DIR")
        }
        guard let url = URLComponents(string: argument) else { throw fail("not a URL") }
        guard let user = url.user, !user.isEmpty else { throw fail("no user") }
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw fail("no database name") }
        let socketDirectory = url.queryItems?.first(where: { $0.name == "host" })?.value
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw fail("port must be 1 to 65535") }
        if let socketDirectory {
            guard socketDirectory.hasPrefix("/") else { throw fail("host= must be an absolute socket directory") }
            return Postgres(user: user, password: url.password, host: "localhost", port: port, database: database,
                            unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)")
        }
        guard let host = url.host, !host.isEmpty else { throw fail("no host") }
        return Postgres(user: user, password: url.password, host: host, port: port, database: database, unixSocketPath: nil)
    }

    public var display: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let server): return server.display
        }
    }

    /// Opens the database (no statement yet: `SQLRegistryStore.open` migrates).
    public func openDatabase() throws -> SQLDatabase {
        switch self {
        case .sqlite(let path): return try SQLiteDatabase(path: path)
        case .postgres(let server): return PostgresDatabase(location: server)
        }
    }
}
