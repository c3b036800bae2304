import Foundation
import ParleyStorage
import SQLKit

/// PostgreSQL's per-table counters (`pg_stat_user_tables`), read before and after a pass: rows written and scans
/// per message show what one send costs the server, and a sequential scan per send shows a missing index.
struct PostgresTableStats: Sendable {
    struct Counters: Sendable {
        var seqScan = 0, seqRowsRead = 0, indexScan = 0, inserted = 0, updated = 0
    }

    var tables: [String: Counters]

    static func read(_ database: Database) async throws -> PostgresTableStats {
        // A backend publishes its counters when a transaction ends at least a second after its last report, or after
        // 10 s idle: the pool's connections go idle after the pass, so wait for the latter.
        try await Task.sleep(for: .milliseconds(10_500))
        let rows = try await database.sql.raw("""
            SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0) AS idx_scan, n_tup_ins, n_tup_upd
            FROM pg_stat_user_tables
            """).all()
        var tables: [String: Counters] = [:]
        for row in rows {
            tables[try row.decode(column: "relname", as: String.self)] = Counters(
                seqScan: try row.decode(column: "seq_scan", as: Int.self),
                seqRowsRead: try row.decode(column: "seq_tup_read", as: Int.self),
                indexScan: try row.decode(column: "idx_scan", as: Int.self), inserted: try row.decode(column: "n_tup_ins", as: Int.self),
                updated: try row.decode(column: "n_tup_upd", as: Int.self))
        }
        return PostgresTableStats(tables: tables)
    }

    /// One line per table that changed: counts per message between `before` and `self`.
    func perMessage(since before: PostgresTableStats, messages: Int) -> [String] {
        let per = { (value: Int) in String(format: "%.2f", Double(value) / Double(max(messages, 1))) }
        return tables.keys.sorted().compactMap { table in
            let now = tables[table]!
            let then = before.tables[table] ?? Counters()
            let delta = Counters(seqScan: now.seqScan - then.seqScan, seqRowsRead: now.seqRowsRead - then.seqRowsRead,
                                 indexScan: now.indexScan - then.indexScan, inserted: now.inserted - then.inserted,
                                 updated: now.updated - then.updated)
            guard max(delta.seqScan, delta.indexScan, delta.inserted, delta.updated) * 20 >= messages else { return nil }
            return "\(table): seq scans \(per(delta.seqScan)) (rows read \(per(delta.seqRowsRead))), index scans \(per(delta.indexScan)), "
                + "inserted \(per(delta.inserted)), updated \(per(delta.updated)) per message"
        }
    }
}
