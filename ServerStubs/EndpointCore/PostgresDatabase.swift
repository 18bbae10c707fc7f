import CamNIO
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// The shared registry: a PostgreSQL server several endpoints use at once,
/// through postgres-nio. A few connections per process (`connections`), one
/// transaction at a time on each; rows a transaction changes are locked
/// (SELECT … FOR UPDATE), so two transactions deciding about the same serial
/// take turns. Several connections matter because each login commits (its
/// presence row), and a commit waits for the server's fsync: one connection
/// serialises those waits, several let the server commit them as a group
/// (measured with Scripts/bench --fleet --backends).
///
/// Blocking by design: it runs on the registry threads (RegistryWorker), which
/// wait for postgres-nio's futures with a bound. The endpoint's event loop
/// never waits for it.
public final class PostgresDatabase: SQLDatabase, @unchecked Sendable {
    /// Bound on connecting and on each statement: a slow or unreachable server
    /// turns into RegistryUnavailable, never an endless wait.
    public static let timeout: TimeAmount = .seconds(5)

    /// Connections per process; RegistryWorker runs as many threads.
    public static let defaultConnections = 4

    public let dialect = SQLDialect.postgres
    public let displayName: String
    public let connections: Int
    private let configuration: PostgresConnection.Configuration
    /// One per connection; a transaction takes a free slot for its duration.
    fileprivate final class Slot {
        var connection: PostgresConnection?
    }
    private let freeSlots: NIOLockedValueBox<(slots: [Slot], closed: Bool)>
    private let slotAvailable: DispatchSemaphore
    private let nextConnectionID = NIOLockedValueBox(1)
    private let logger = Logger(label: "camagent.registry", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(location: RegistryLocation.Postgres, connections: Int = PostgresDatabase.defaultConnections) {
        self.connections = max(1, connections)
        freeSlots = NIOLockedValueBox(((0..<max(1, connections)).map { _ in Slot() }, false))
        slotAvailable = DispatchSemaphore(value: max(1, connections))
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
        let slot = takeSlot()
        defer { giveBack(slot) }
        let session = PostgresSession(connection: try connected(slot), database: self, slot: slot)
        try session.execute("BEGIN", [])
        do {
            let result = try body(session)
            try session.execute("COMMIT", [])
            return result
        } catch {
            if !(error is RegistryUnavailable) {
                do { try session.execute("ROLLBACK", []) } catch { drop(slot) }
            }
            throw error
        }
    }

    /// Waits for a free connection. Never long: the registry threads are as
    /// many as the slots, and each statement is bounded by `timeout`.
    private func takeSlot() -> Slot {
        slotAvailable.wait()
        return freeSlots.withLockedValue { $0.slots.removeLast() }
    }

    private func giveBack(_ slot: Slot) {
        let closed = freeSlots.withLockedValue { state -> Bool in
            state.slots.append(slot)
            return state.closed
        }
        if closed { drop(slot) }
        slotAvailable.signal()
    }

    /// READ COMMITTED reads take no locks anyway: the same as a transaction.
    public func read<Result>(_ body: (SQLSession) throws -> Result) throws -> Result {
        try transaction(body)
    }

    /// Closes the idle connections now and the busy ones when their transaction ends.
    public func close() {
        let idle = freeSlots.withLockedValue { state -> [Slot] in
            state.closed = true
            return state.slots
        }
        idle.forEach(drop)
    }

    /// The slot's open connection, or a new one (bounded by `timeout`).
    private func connected(_ slot: Slot) throws -> PostgresConnection {
        if let connection = slot.connection, !connection.isClosed { return connection }
        slot.connection = nil
        let id = nextConnectionID.withLockedValue { next -> Int in
            defer { next += 1 }
            return next
        }
        let future = PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                configuration: configuration, id: id, logger: logger)
        do {
            let opened = try Self.wait(for: future, what: "connecting to \(displayName)")
            slot.connection = opened
            return opened
        } catch let error as RegistryUnavailable {
            // Timed out: a connection that still arrives is closed, not leaked.
            future.whenSuccess { late in late.close().whenComplete { _ in _ = late } }
            throw error
        } catch {
            throw RegistryUnavailable("cannot connect to the registry at \(displayName): \(Self.describe(error))")
        }
    }

    fileprivate func drop(_ slot: Slot) {
        // The close completes later; the connection must live until then.
        if let connection = slot.connection { connection.close().whenComplete { _ in _ = connection } }
        slot.connection = nil
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
    let slot: PostgresDatabase.Slot

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
            database.drop(slot)
            throw error
        } catch {
            if PostgresDatabase.isUnavailability(error) {
                database.drop(slot)
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
