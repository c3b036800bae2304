import Foundation
import Logging
import ParleyStorage

/// The databases a store contract suite runs against: SQLite always, PostgreSQL when
/// `PARLEY_TEST_POSTGRES_URL` names a server (`.ci/run` starts one and sets it).
public enum TestDatabases {
    public static var postgresURL: String? {
        let value = ProcessInfo.processInfo.environment["PARLEY_TEST_POSTGRES_URL"]
        return value?.isEmpty == false ? value : nil
    }

    public static var engines: [DatabaseEngine] {
        postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    public static let logger: Logger = {
        var logger = Logger(label: "parley-test")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` on a brand-new, empty database of `engine` (a fresh SQLite file, or a freshly created
    /// PostgreSQL database), with `migrations` applied, and deletes it afterwards.
    public static func withDatabase<T: Sendable>(
        _ engine: DatabaseEngine, migrations: [MigrationGroup],
        _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        try await withConfiguration(engine) { configuration in
            let database = try await Database.open(configuration, logger: logger)
            return try await database.withRunningPool { database in
                try await Migrator(database: database).migrate(migrations)
                return try await body(database)
            }
        }
    }

    /// Creates an empty database of `engine` and hands over its configuration; removes it afterwards.
    public static func withConfiguration<T: Sendable>(
        _ engine: DatabaseEngine, _ body: @Sendable (DatabaseConfiguration) async throws -> T
    ) async throws -> T {
        switch engine {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            return try await body(.sqlite(path: folder.appendingPathComponent("parley.sqlite").path))
        case .postgres:
            guard let adminURL = postgresURL else { throw TestDatabaseError("PARLEY_TEST_POSTGRES_URL is not set") }
            let name = "parley_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            try await admin(adminURL) { try await $0.sql.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
            do {
                let result = try await body(.postgres(url: try url(adminURL, database: String(name))))
                try await admin(adminURL) { try await $0.sql.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                return result
            } catch {
                try? await admin(adminURL) { try await $0.sql.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                throw error
            }
        }
    }

    private static func admin(_ url: String, _ body: @Sendable (Database) async throws -> Void) async throws {
        let database = try await Database.open(.postgres(url: url), logger: logger)
        try await database.withRunningPool(body)
    }

    /// The admin URL with its database name replaced.
    static func url(_ adminURL: String, database: String) throws -> String {
        guard var components = URLComponents(string: adminURL) else { throw TestDatabaseError("bad PARLEY_TEST_POSTGRES_URL") }
        components.path = "/" + database
        guard let url = components.string else { throw TestDatabaseError("bad PARLEY_TEST_POSTGRES_URL") }
        return url
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
