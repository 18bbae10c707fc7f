/// One value in a row or a statement argument. The registry uses only text and
/// 64-bit integers, which SQLite and PostgreSQL store alike.
public enum SQLValue: Equatable, Sendable {
    case null
    case int(Int64)
    case text(String)

    init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    init(_ number: Int) { self = .int(Int64(number)) }

    var string: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    var integer: Int64? {
        if case .int(let number) = self { return number }
        return nil
    }
}

/// Which SQL the database speaks where SQLite and PostgreSQL differ.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// Appended to a SELECT whose rows the transaction will change: PostgreSQL
    /// locks them (a second endpoint waits); SQLite's write transaction already
    /// holds the whole database.
    var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }
}

/// Statements inside one open transaction. Blocking: it runs on a registry
/// thread (RegistryWorker), never on an event loop.
public protocol SQLSession {
    /// Runs a query with `?` placeholders and returns its rows.
    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [[SQLValue]]
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
}

/// A database the registry store can run transactions on.
public protocol SQLDatabase: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    /// For log lines and errors: the file, or the server without the password.
    var displayName: String { get }
    /// Runs `body` in one transaction that only this process writes until it ends:
    /// committed if `body` returns, rolled back if it throws.
    func transaction<Result>(_ body: (SQLSession) throws -> Result) throws -> Result
    /// Runs `body` in a transaction that only reads: on SQLite it does not take
    /// the write lock, so the once-a-second refresh never waits for a writer.
    func read<Result>(_ body: (SQLSession) throws -> Result) throws -> Result
    func close()
}

/// The database could not be reached or did not answer in time. Logins are
/// refused with a retryable error while this lasts; agents online stay online.
public struct RegistryUnavailable: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
