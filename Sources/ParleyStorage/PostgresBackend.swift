import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through PostgresNIO's `PostgresClient` pool.
///
/// The pool must be running (`run()`) while the database is used; the composition root runs it as a
/// Service and tests run it in a task.
final class PostgresBackend: DatabaseBackend {
    let client: PostgresClient
    let names = PostgresNamedStatements()
    private let pooled: PooledPostgresSQLDatabase

    init(url: String, logger: Logger) throws {
        let configuration = try PostgresBackend.clientConfiguration(url: url)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        pooled = PooledPostgresSQLDatabase(client: client, names: names, logger: logger)
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    /// A `host` query item starting with `/` names a Unix socket folder, as libpq allows.
    static func clientConfiguration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else {
            throw DatabaseURLError(message: "not a postgres:// URL")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last }
        )
        let username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.password.flatMap { $0.removingPercentEncoding }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        let databaseName = database.isEmpty ? nil : database
        var configuration: PostgresClient.Configuration
        if let socketFolder = query["host"], socketFolder.hasPrefix("/") {
            let port = components.port ?? 5432
            configuration = PostgresClient.Configuration(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: username, password: password, database: databaseName
            )
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch query["sslmode"] ?? "disable" {
            case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
            case "prefer": tls = .prefer(.makeClientConfiguration())
            default: tls = .disable
            }
            configuration = PostgresClient.Configuration(
                host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
                username: username, password: password, database: databaseName, tls: tls
            )
        }
        configuration.options.maximumConnections = Int(query["pool_max"] ?? "") ?? 20
        return configuration
    }

    var sql: any SQLDatabase { pooled }

    func transaction<T: Sendable>(engine: DatabaseEngine, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await Self.runTransaction(on: NamingPostgresSQLDatabase(connection: connection, names: names), engine: engine, body)
        }
    }

    /// BEGIN, body, COMMIT on one pooled connection; ROLLBACK when the body (or COMMIT) throws.
    private static func runTransaction<T: Sendable>(
        on connection: any SQLDatabase, engine: DatabaseEngine, _ body: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await connection.raw(SQLQueryString(engine.beginWriteTransaction)).run()
        do {
            let result = try await body(connection)
            try await connection.raw("COMMIT").run()
            return result
        } catch {
            // The ROLLBACK runs in a task of its own: when the caller was cancelled, a query from its task may be
            // refused, and the connection would go back to the pool still inside this transaction.
            await Task { try? await connection.raw("ROLLBACK").run() }.value
            throw error
        }
    }

    func run() async {
        await client.run()
    }

    func close() async {}
}

public struct DatabaseURLError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { "invalid database URL: \(message)" }
}

/// An `SQLDatabase` that borrows a pooled connection for each statement.
struct PooledPostgresSQLDatabase: SQLDatabase {
    let client: PostgresClient
    let names: PostgresNamedStatements
    let logger: Logger

    var eventLoop: any EventLoop { PostgresClient.defaultEventLoopGroup.any() }
    var dialect: any SQLDialect { PostgresDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        futureOfAsyncExecute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        do {
            try await executeOnce(query, onRow)
        } catch where PostgresNamedStatements.retiresName(error) {
            // A statement of its own that failed was rolled back whole, so it may run again: unnamed now if it was
            // named (its name was just retired, e.g. a cached plan that another node's migration outdated), and it
            // fails the same way again if the name was not the cause. Inside a transaction the caller decides.
            try await executeOnce(query, onRow)
        }
    }

    private func executeOnce(_ query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await client.withConnection { connection in
            try await NamingPostgresSQLDatabase(connection: connection, names: names).execute(sql: query, onRow)
        }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await client.withConnection { connection in
            try await closure(NamingPostgresSQLDatabase(connection: connection, names: names))
        }
    }
}
