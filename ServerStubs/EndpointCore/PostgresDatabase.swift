import CamNIO
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// The shared registry: a PostgreSQL server several endpoints use at once,
/// through postgres-nio. One connection per process, one transaction at a time
/// on it; rows a transaction changes are locked (SELECT … FOR UPDATE), so two
/// endpoints deciding about the same serial take turns.
///
/// Blocking by design: it runs on the registry threads (RegistryWorker), which
/// wait for postgres-nio's futures with a bound. The endpoint's event loop
/// never waits for it.
public final class PostgresDatabase: SQLDatabase, @unchecked Sendable {
    /// Bound on connecting and on each statement: a slow or unreachable server
    /// turns into RegistryUnavailable, never an endless wait.
    public static let timeout: TimeAmount = .seconds(5)

    public let dialect = SQLDialect.postgres
    public let displayName: String
    private let configuration: PostgresConnection.Configuration
    private let lock = NIOLock()
    private var connection: PostgresConnection?
    private var nextConnectionID = 1
    private let logger = Logger(label: "camagent.registry", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(location: RegistryLocation.Postgres) {
        var configuration: PostgresConnection.Configuration
        if let socket = location.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: location.user, password: location.password,
                                  database: location.database)
        } else {
            configuration = .init(host: location.host, port: location.port, username: location.user,
                                  password: location.password, database: location.database, tls: .disable)
        }
        configuration.options.connectTimeout = Self.timeout
        self.configuration = configuration
        displayName = location.display
    }

    public func transaction<Result>(_ body: (SQLSession) throws -> Result) throws -> Result {
        try lock.withLock {
            let session = PostgresSession(connection: try connected(), database: self)
            try session.execute("BEGIN", [])
            do {
                let result = try body(session)
                try session.execute("COMMIT", [])
                return result
            } catch {
                if !(error is RegistryUnavailable) {
                    do { try session.execute("ROLLBACK", []) } catch { dropConnection() }
                }
                throw error
            }
        }
    }

    /// READ COMMITTED reads take no locks anyway: the same as a transaction.
    public func read<Result>(_ body: (SQLSession) throws -> Result) throws -> Result {
        try transaction(body)
    }

    public func close() {
        lock.withLock { dropConnection() }
    }

    /// The open connection, or a new one (bounded by `timeout`). Called with the lock held.
    private func connected() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        let id = nextConnectionID
        nextConnectionID += 1
        let future = PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                configuration: configuration, id: id, logger: logger)
        do {
            let opened = try Self.wait(for: future, what: "connecting to \(displayName)")
            connection = opened
            return opened
        } catch let error as RegistryUnavailable {
            // Timed out: a connection that still arrives is closed, not leaked.
            future.whenSuccess { late in late.close().whenComplete { _ in _ = late } }
            throw error
        } catch {
            throw RegistryUnavailable("cannot connect to the registry at \(displayName): \(Self.describe(error))")
        }
    }

    fileprivate func dropConnection() {
        // The close completes later; the connection must live until then.
        if let connection { connection.close().whenComplete { _ in _ = connection } }
        connection = nil
    }

    fileprivate var queryLogger: Logger { logger }

    /// Waits for `future` at most `timeout`; blocking, so only on a registry thread.
    static func wait<T>(for future: EventLoopFuture<T>, what: String) throws -> T {
        let promise = future.eventLoop.makePromise(of: T.self)
        let done = NIOLockedValueBox(false)
        func finish(_ result: Result<T, Error>) {
            let first = done.withLockedValue { finished -> Bool in
                defer { finished = true }
                return !finished
            }
            if first { promise.completeWith(result) }
        }
        future.whenComplete(finish)
        let timer = future.eventLoop.scheduleTask(in: timeout) {
            finish(.failure(RegistryUnavailable("no answer within \(timeout.nanoseconds / 1_000_000_000) s while \(what)")))
        }
        defer { timer.cancel() }
        return try promise.futureResult.wait()
    }

    /// What went wrong, without the query's arguments (they may hold verifiers).
    static func describe(_ error: Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// True when the error says the server or the link failed, not the statement.
    static func isUnavailability(_ error: Error) -> Bool {
        guard let error = error as? PSQLError else { return true }
        guard error.code == .server else { return true }
        let state = error.serverInfo?[.sqlState] ?? ""
        // 08 connection, 53 resources, 57 operator intervention (shutdown), 40 deadlock/serialization.
        return ["08", "53", "57", "40"].contains(String(state.prefix(2)))
    }
}

private struct PostgresSession: SQLSession {
    let connection: PostgresConnection
    let database: PostgresDatabase

    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [[SQLValue]] {
        let result = try run(sql, arguments)
        return try result.map { row in
            try row.map { cell -> SQLValue in
                guard cell.bytes != nil else { return .null }
                switch cell.dataType {
                case .int8, .int4, .int2: return .int(try cell.decode(Int64.self))
                default: return .text(try cell.decode(String.self))
                }
            }
        }
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        _ = try run(sql, arguments)
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: binds.appendNull()
            case .int(let number): binds.append(number)
            case .text(let text): binds.append(text)
            }
        }
        let query = PostgresQuery(unsafeSQL: Self.numberedPlaceholders(sql), binds: binds)
        do {
            return try PostgresDatabase.wait(for: connection.query(query, logger: database.queryLogger), what: "querying \(database.displayName)")
        } catch let error as RegistryUnavailable {
            database.dropConnection()
            throw error
        } catch {
            if PostgresDatabase.isUnavailability(error) {
                database.dropConnection()
                throw RegistryUnavailable("registry \(database.displayName): \(PostgresDatabase.describe(error))")
            }
            throw ValidationFailure("registry \(database.displayName): \(PostgresDatabase.describe(error))")
        }
    }

    /// `?` → `$1`, `$2`, …: the registry's statements hold no `?` in literals.
    static func numberedPlaceholders(_ sql: String) -> String {
        var out = ""
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                out += "$\(index)"
            } else {
                out.append(character)
            }
        }
        return out
    }
}
