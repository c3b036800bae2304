import Foundation
import Logging
import ParleyStorage
import SQLKit

/// Fresh, empty databases for each measured case, and their removal afterwards.
///
/// SQLite: a new file in a temporary folder (WAL, `synchronous=NORMAL`, as `parley serve` opens it).
/// PostgreSQL: a new database `parley_ingest_bench_<pid>_<n>` on the server the URL names, dropped afterwards; the
/// database the URL itself names is only used to create and drop them.
struct BenchDatabases: Sendable {
    let engine: DatabaseEngine
    let postgresURL: String?
    let folder: URL
    let logger: Logger

    static func sqlite(logger: Logger) -> BenchDatabases {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-ingest-bench-\(UUID().uuidString)")
        return BenchDatabases(engine: .sqlite, postgresURL: nil, folder: folder, logger: logger)
    }

    static func postgres(url: String, logger: Logger) -> BenchDatabases {
        BenchDatabases(engine: .postgres, postgresURL: url, folder: FileManager.default.temporaryDirectory, logger: logger)
    }

    /// Runs `body` on a fresh database with its pool running, then closes and removes it.
    func withFreshDatabase<T: Sendable>(named name: String, _ body: @Sendable (Database) async throws -> T) async throws -> T {
        switch engine {
        case .sqlite:
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let path = folder.appendingPathComponent("\(name).sqlite").path
            defer {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
            let database = try await Database.open(.sqlite(path: path), logger: logger)
            return try await database.withRunningPool(body)
        case .postgres:
            guard let postgresURL, var components = URLComponents(string: postgresURL) else {
                throw OptionError("not a postgres:// URL: \(postgresURL ?? "")")
            }
            let databaseName = "parley_ingest_bench_\(ProcessInfo.processInfo.processIdentifier)_\(name)"
            try await administer("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
            try await administer("CREATE DATABASE \(databaseName)")
            components.path = "/\(databaseName)"
            guard let url = components.string else { throw OptionError("cannot build a URL for \(databaseName)") }
            do {
                let database = try await Database.open(.postgres(url: url), logger: logger)
                let result = try await database.withRunningPool(body)
                try await administer("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
                return result
            } catch {
                try? await administer("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
                throw error
            }
        }
    }

    /// Runs one statement outside a transaction on the database the URL names (CREATE and DROP DATABASE cannot run in one).
    private func administer(_ statement: String) async throws {
        guard let postgresURL else { return }
        let admin = try await Database.open(.postgres(url: postgresURL), logger: logger)
        try await admin.withRunningPool { admin in
            try await admin.sql.raw(SQLQueryString(statement)).run()
        }
    }

    func removeFolder() {
        if engine == .sqlite { try? FileManager.default.removeItem(at: folder) }
    }
}
