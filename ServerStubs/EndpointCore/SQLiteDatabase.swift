import CamNIO
import Foundation
import GRDB

/// The embedded registry: one SQLite file through GRDB. In WAL mode with a busy
/// timeout, so that a main and a backup endpoint on one host (and the CLI
/// commands) share the file; each transaction takes the write lock at its start
/// (BEGIN IMMEDIATE), so two processes never both read a row and then write it.
public final class SQLiteDatabase: SQLDatabase, @unchecked Sendable {
    /// How long a statement waits for another process's write lock.
    public static let busyTimeout: TimeInterval = 5

    public let dialect = SQLDialect.sqlite
    public let displayName: String
    private let queue: DatabaseQueue

    public init(path: String) throws {
        displayName = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.label = "registry"
        configuration.prepareDatabase { db in
            // WAL lets readers go on while one process writes, and survives a crash
            // at any point. NORMAL is durable against process crashes (kill -9).
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let existed = FileManager.default.fileExists(atPath: path)
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw ValidationFailure("cannot open registry \(path): \(Self.describe(error))")
        }
        if !existed {
            // Verifiers let their holder pass as the endpoint to an agent: keep the file private.
            chmod(path, 0o600)
        }
    }

    public func transaction<Result>(_ body: (SQLSession) throws -> Result) throws -> Result {
        do {
            return try queue.writeWithoutTransaction { db in
                var result: Result?
                try db.inTransaction(.immediate) {
                    result = try body(GRDBSession(db: db))
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw RegistryUnavailable("registry \(displayName) stayed locked by another process for \(Int(Self.busyTimeout)) s")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_IOERR || error.resultCode == .SQLITE_FULL
            || error.resultCode == .SQLITE_CANTOPEN {
            throw RegistryUnavailable("registry \(displayName): \(Self.describe(error))")
        }
    }

    public func read<Result>(_ body: (SQLSession) throws -> Result) throws -> Result {
        do {
            return try queue.read { db in try body(GRDBSession(db: db)) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
            || error.resultCode == .SQLITE_IOERR || error.resultCode == .SQLITE_CANTOPEN {
            throw RegistryUnavailable("registry \(displayName): \(Self.describe(error))")
        }
    }

    public func close() {
        try? queue.close()
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }
}

private struct GRDBSession: SQLSession {
    let db: Database

    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [[SQLValue]] {
        try Row.fetchAll(db, sql: sql, arguments: Self.arguments(arguments)).map { row in
            row.databaseValues.map { value in
                switch value.storage {
                case .null: return .null
                case .int64(let number): return .int(number)
                case .string(let text): return .text(text)
                case .double(let number): return .int(Int64(number))
                case .blob(let data): return .text(String(decoding: data, as: UTF8.self))
                }
            }
        }
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        try db.execute(sql: sql, arguments: Self.arguments(arguments))
    }

    static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValueConvertible? in
            switch value {
            case .null: return nil
            case .int(let number): return number
            case .text(let text): return text
            }
        })
    }
}
