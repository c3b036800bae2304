import Foundation
import ParleyCore
import SQLKit

/// One numbered, append-only schema change of one context.
///
/// Once a migration has shipped, its number, name and statements never change; a fix is a new migration.
public struct Migration: Sendable {
    public let number: Int
    public let name: String
    /// The statements to run, for the engine at hand (so a migration can use `autoIncrementPrimaryKey` etc.).
    public let statements: @Sendable (DatabaseEngine) -> [String]

    public init(_ number: Int, _ name: String, statements: @escaping @Sendable (DatabaseEngine) -> [String]) {
        self.number = number
        self.name = name
        self.statements = statements
    }
}

/// The migrations one bounded context owns, applied in number order.
public struct MigrationGroup: Sendable {
    public let context: String
    public let migrations: [Migration]

    public init(context: String, migrations: [Migration]) {
        self.context = context
        self.migrations = migrations
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let description: String
}

/// Applies migration groups and records what ran in `parley_migrations`.
///
/// Each migration runs in its own transaction with its bookkeeping row, so a crash leaves the schema
/// either before or after it. On PostgreSQL an advisory lock keeps several nodes starting at once from
/// racing; on SQLite the single writer does the same.
public struct Migrator: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Applies every pending migration; returns the `context/number-name` labels it applied.
    @discardableResult
    public func migrate(_ groups: [MigrationGroup]) async throws -> [String] {
        try await database.transaction { sql in
            try await sql.raw("""
                CREATE TABLE IF NOT EXISTS parley_migrations (
                    context TEXT NOT NULL,
                    number BIGINT NOT NULL,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL,
                    PRIMARY KEY (context, number)
                )
                """).run()
        }
        var applied: [String] = []
        for group in groups {
            try validate(group)
            for migration in group.migrations.sorted(by: { $0.number < $1.number }) {
                let ran = try await database.transaction { [engine = database.engine] sql -> Bool in
                    if engine == .postgres {
                        try await sql.raw("SELECT pg_advisory_xact_lock(74057265)").run()
                    }
                    let existing = try await sql.raw("""
                        SELECT name FROM parley_migrations WHERE context = \(bind: group.context) AND number = \(bind: migration.number)
                        """).first()
                    if let existing {
                        let recordedName = try existing.decode(column: "name", as: String.self)
                        guard recordedName == migration.name else {
                            throw MigrationError(description: "\(group.context) migration \(migration.number) was recorded as "
                                + "'\(recordedName)' but the code calls it '\(migration.name)': migrations are append-only")
                        }
                        return false
                    }
                    for statement in migration.statements(engine) {
                        try await sql.raw(SQLQueryString(statement)).run()
                    }
                    try await sql.raw("""
                        INSERT INTO parley_migrations (context, number, name, applied_at)
                        VALUES (\(bind: group.context), \(bind: migration.number), \(bind: migration.name), \(bind: Date().unixMilliseconds))
                        """).run()
                    return true
                }
                if ran { applied.append("\(group.context)/\(migration.number)-\(migration.name)") }
            }
        }
        return applied
    }

    private func validate(_ group: MigrationGroup) throws {
        let numbers = group.migrations.map(\.number)
        guard Set(numbers).count == numbers.count else {
            throw MigrationError(description: "\(group.context) has two migrations with the same number")
        }
        guard numbers.sorted() == Array(1...max(1, numbers.count)).prefix(numbers.count).map({ $0 }) else {
            throw MigrationError(description: "\(group.context) migrations must be numbered 1, 2, 3, ... without gaps")
        }
    }
}
