import Foundation
import ParleyStorage
import SQLKit

/// Reproduces a fault in `Database.transaction` (not in the bench): when the calling task is cancelled while the
/// transaction runs, the statement in flight throws `CancellationError` (NIO's thread pool refuses work for cancelled
/// tasks), and so does the `ROLLBACK` that `runTransaction` then tries (its error is discarded). The connection is left
/// inside the open transaction. On SQLite that connection is the process's only writer, so every later
/// `Database.transaction` fails with "cannot start a transaction within a transaction".
enum CancelledTransactionRepro {
    /// Cancels a task that runs two-statement transactions in a loop, then runs one more transaction on the same
    /// database. Returns a line saying what happened.
    static func run(on database: Database) async throws -> String {
        try await database.sql.raw("CREATE TABLE bench_cancel (n BIGINT NOT NULL)").run()
        for attempt in 1...20 {
            let writer = Task {
                var n: Int64 = 0
                while true {
                    n += 1
                    let value = n
                    try await database.transaction { sql in
                        try await sql.raw("INSERT INTO bench_cancel (n) VALUES (\(bind: value))").run()
                        try await sql.raw("INSERT INTO bench_cancel (n) VALUES (\(bind: value))").run()
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            writer.cancel()
            let ended = await writer.result
            do {
                try await database.transaction { sql in try await sql.raw("INSERT INTO bench_cancel (n) VALUES (0)").run() }
            } catch {
                return "\(database.engine.rawValue): after cancelling a writer task (attempt \(attempt); it ended with \(ended)), "
                    + "the next transaction on the same Database failed: \(String(reflecting: error))"
            }
        }
        return "\(database.engine.rawValue): 20 writer tasks cancelled mid-loop; every later transaction still worked"
    }
}
