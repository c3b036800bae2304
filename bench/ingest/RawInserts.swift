import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The physical limit: rows shaped like a stored message inserted straight into one table, through the same
/// `Database` (same engine settings, same pool, same transaction path) that Parley's stores use.
///
/// The table has the columns a message row needs to be found again (id, conversation, seq, sender, body as JSON text,
/// created_at) with its primary key on (conversation_id, seq) and a unique id, as `messaging_items` has.
struct RawInserts: Sendable {
    static let table = "bench_raw_messages"

    let database: Database
    let ids: any IDGenerator

    /// Drops and creates the table, so every pass starts on an empty one as the send pass does.
    func reset() async throws {
        try await database.sql.raw("DROP TABLE IF EXISTS \(unsafeRaw: Self.table)").run()
        try await database.sql.raw("""
            CREATE TABLE \(unsafeRaw: Self.table) (
                conversation_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                id TEXT NOT NULL UNIQUE,
                sender_id TEXT NOT NULL,
                body TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (conversation_id, seq)
            )
            """).run()
    }

    /// Inserts `total` rows with `concurrency` writers, `perTransaction` rows per transaction.
    func run(total: Int, concurrency: Int, perTransaction: Int, measuresServer: Bool) async throws -> PassResult {
        try await reset()
        let shares = SendPass.split(total, into: concurrency)
        let meter = Meter(measuresServer: measuresServer)
        let outcomes = try await withThrowingTaskGroup(of: WriterOutcome.self) { group in
            for writer in 0..<concurrency {
                group.addTask { try await insert(shares[writer], writer: writer, perTransaction: perTransaction) }
            }
            var all: [WriterOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        let kind = perTransaction == 1 ? "raw_insert_1_per_tx" : "raw_insert_\(perTransaction)_per_tx"
        return meter.finish(kind: kind, count: outcomes.reduce(0) { $0 + $1.done }, failures: outcomes.reduce(0) { $0 + $1.failures },
                            firstError: outcomes.compactMap(\.firstError).first,
                            latencies: perTransaction == 1 ? outcomes.flatMap(\.latencies) : [])
    }

    private func insert(_ count: Int, writer: Int, perTransaction: Int) async throws -> WriterOutcome {
        var outcome = WriterOutcome()
        outcome.latencies.reserveCapacity(perTransaction == 1 ? count : 0)
        let conversation = "c_raw_\(writer)"
        let sender = "u\(writer)a"
        var seq: Int64 = 0
        var remaining = count
        while remaining > 0 {
            let rows = min(perTransaction, remaining)
            remaining -= rows
            var values: [SQLQueryString] = []
            for _ in 0..<rows {
                seq += 1
                let body = try JSONValue.object(["text": .string(SendPass.text(seq: Int(seq), sender: sender))]).jsonText()
                values.append("""
                    (\(bind: conversation), \(bind: seq), \(bind: ids.next(prefix: "m_")), \(bind: sender), \(bind: body), \
                    \(bind: Date().unixMilliseconds))
                    """)
            }
            let statement: SQLQueryString = """
                INSERT INTO \(unsafeRaw: Self.table) (conversation_id, seq, id, sender_id, body, created_at) \
                VALUES \(values.joined(separator: ", "))
                """
            let start = ContinuousClock.now
            do {
                try await database.transaction { sql in try await sql.raw(statement).run() }
                outcome.done += rows
                if perTransaction == 1 { outcome.latencies.append(Meter.seconds(since: start)) }
            } catch {
                outcome.failures += rows
                if outcome.firstError == nil { outcome.firstError = String(describing: error) }
            }
        }
        return outcome
    }
}

/// What one concurrent writer (or sender) did.
struct WriterOutcome: Sendable {
    var done = 0
    var failures = 0
    var firstError: String?
    var latencies: [Double] = []
}
