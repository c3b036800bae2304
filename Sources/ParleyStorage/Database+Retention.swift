import SQLKit

extension Database {
    /// Runs a `DELETE … WHERE key IN (SELECT key … LIMIT batch)` statement, each in its own transaction, until a run
    /// deletes fewer than `batch` rows; returns how many went. Housekeeping deletes in batches so a large backlog never
    /// holds SQLite's one writer (or PostgreSQL's row locks) for long.
    public func deleteInBatches(_ statement: SQLQueryString, batch: Int) async throws -> Int {
        var total = 0
        while true {
            let removed = try await transaction { sql in
                try await sql.raw(statement + " RETURNING 1 AS one").all().count
            }
            total += removed
            if removed < batch { return total }
        }
    }
}
