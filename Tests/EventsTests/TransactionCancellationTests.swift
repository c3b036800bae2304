import Foundation
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Testing

/// A task cancelled in the middle of a write transaction must leave the database writable: on SQLite the one
/// writer connection would otherwise stay inside the abandoned transaction.
@Suite struct TransactionCancellationTests {
    @Test(arguments: TestDatabases.engines)
    func aTransactionCancelledHalfwayIsRolledBackAndTheNextOneWorks(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: []) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE cancel_probe (id BIGINT PRIMARY KEY)").run()
            }
            let started = AsyncStream<Void>.makeStream()
            let task = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO cancel_probe (id) VALUES (1)").run()
                    started.continuation.yield()
                    // Wait here until cancelled, inside the transaction.
                    while true {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            var iterator = started.stream.makeAsyncIterator()
            await iterator.next()
            task.cancel()
            _ = await task.result
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO cancel_probe (id) VALUES (2)").run()
            }
            let ids = try await database.sql.raw("SELECT id FROM cancel_probe ORDER BY id").all().map { try $0.decode(column: "id", as: Int.self) }
            #expect(ids == [2])
        }
    }
}
