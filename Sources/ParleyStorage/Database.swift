import Foundation
import Logging
import SQLKit

/// Parley's handle on its SQL database, whichever engine is underneath.
///
/// - `sql` runs single statements (reads, and writes that need no transaction) on a pooled connection.
/// - `transaction` runs a closure between BEGIN and COMMIT on one pinned connection and rolls back if it throws.
///   On SQLite, write transactions take turns on one writer connection (`BEGIN IMMEDIATE`), with group commit;
///   on PostgreSQL they run concurrently and rely on row locks and constraints.
public final class Database: Sendable {
    public let engine: DatabaseEngine
    let backend: any DatabaseBackend
    /// Signalled after every committed transaction of this process.
    public let commits = ChangeSignal()
    /// In-process channels of `notify`/`listen` (SQLite: its only delivery; see Database+Notifications.swift).
    let localChannels = LocalChannels()

    init(engine: DatabaseEngine, backend: any DatabaseBackend) {
        self.engine = engine
        self.backend = backend
    }

    /// Opens the database a configuration names. The caller must `close()` it (and, on PostgreSQL,
    /// run `runPool()` for as long as it is in use; the composition root does that as a Service).
    public static func open(_ configuration: DatabaseConfiguration, logger: Logger) async throws -> Database {
        switch configuration {
        case .sqlite(let path):
            return Database(engine: .sqlite, backend: try await SQLiteBackend.open(path: path, logger: logger))
        case .postgres(let url):
            return Database(engine: .postgres, backend: try PostgresBackend(url: url, logger: logger))
        }
    }

    /// A connection for statements outside a transaction.
    public var sql: any SQLDatabase { backend.sql }

    /// Runs `body` inside one transaction; commits when it returns, rolls back when it throws.
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let notifications = PendingNotifications()
        let result = try await PendingNotifications.$current.withValue(notifications) {
            try await backend.transaction(engine: engine, body)
        }
        commits.notify()
        // Committed: now the channels the body notified may wake their listeners (before the commit they would
        // have looked and found nothing).
        for channel in notifications.channels { localChannels.signal(channel).notify() }
        return result
    }

    /// Keeps the connection pool alive (PostgreSQL) until the task is cancelled; on SQLite it only waits.
    public func runPool() async {
        await backend.run()
    }

    /// Whether the database answers a trivial query: the readiness probe.
    public func isReachable() async -> Bool {
        do {
            _ = try await sql.raw("SELECT 1 AS one").first()
            return true
        } catch {
            return false
        }
    }

    public func close() async {
        await backend.close()
    }
}

/// Where the data lives.
public enum DatabaseConfiguration: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(url: String)

    /// `postgres://` and `postgresql://` URLs select PostgreSQL; `sqlite:PATH`, `sqlite://PATH` or a plain path select SQLite.
    public init(urlOrPath: String) {
        if urlOrPath.hasPrefix("postgres://") || urlOrPath.hasPrefix("postgresql://") {
            self = .postgres(url: urlOrPath)
        } else if urlOrPath.hasPrefix("sqlite://") {
            self = .sqlite(path: String(urlOrPath.dropFirst("sqlite://".count)))
        } else if urlOrPath.hasPrefix("sqlite:") {
            self = .sqlite(path: String(urlOrPath.dropFirst("sqlite:".count)))
        } else {
            self = .sqlite(path: urlOrPath)
        }
    }

    /// The configuration without secrets, for logs.
    public var redacted: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://…" }
            if components.password != nil { components.password = "***" }
            return components.string ?? "postgres://…"
        }
    }
}

protocol DatabaseBackend: Sendable {
    var sql: any SQLDatabase { get }
    func transaction<T: Sendable>(engine: DatabaseEngine, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func run() async
    func close() async
}

extension Database {
    /// Runs `body` while the connection pool is running, then stops the pool and closes the database.
    /// For commands and tests that are not part of the server's ServiceGroup.
    public func withRunningPool<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.runPool() }
            do {
                let result = try await body(self)
                group.cancelAll()
                await close()
                return result
            } catch {
                group.cancelAll()
                await close()
                throw error
            }
        }
    }
}
