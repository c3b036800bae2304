import Foundation
import Logging
import PostgresNIO
import SQLKit

extension Database {
    /// Wakes waiters on other processes: on PostgreSQL a `NOTIFY` on `channel`, delivered when the
    /// surrounding transaction commits; on SQLite nothing (one process; `commits` covers it).
    public func notify(_ channel: String, on sql: any SQLDatabase) async throws {
        guard engine == .postgres else { return }
        try await sql.raw("SELECT pg_notify(\(bind: channel), '')").run()
    }

    /// Calls `onNotify` for every `NOTIFY` on `channel` until the task is cancelled, reconnecting after
    /// errors. On SQLite it only waits for cancellation.
    public func listen(_ channel: String, logger: Logger, onNotify: @escaping @Sendable () -> Void) async {
        guard let postgres = backend as? PostgresBackend else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        while !Task.isCancelled {
            do {
                try await postgres.client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        onNotify()  // Anything sent while we were not listening: look once now.
                        for try await _ in notifications { onNotify() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN failed; retrying", metadata: ["channel": .string(channel), "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
