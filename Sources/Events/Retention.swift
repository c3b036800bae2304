import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// How long the event log and the work done from it are kept. Without limits the log (a row per message sent,
/// with its payload), finished jobs and webhook deliveries grow for as long as Parley runs.
public struct RetentionSettings: Sendable, Equatable {
    /// Events older than this are deleted once every consumer still running has read them. Replays (a webhook
    /// endpoint's, an analytics rebuild) reach back this far at most.
    public var events: TimeInterval = 30 * 86_400
    /// Completed and discarded jobs. A job's `unique_key` is free again once the job is deleted.
    public var finishedJobs: TimeInterval = 7 * 86_400
    /// Dead jobs (dead letters, kept for operators to retry) and finished webhook deliveries (succeeded, dead,
    /// skipped: the delivery log endpoints' owners read).
    public var deadLettersAndDeliveries: TimeInterval = 30 * 86_400

    public init() {}
}

/// What one retention pass deleted.
public struct RetentionPass: Sendable, Equatable {
    public var events = 0
    public var jobs = 0
    public var webhookDeliveries = 0

    public init() {}
}

/// Deletes what `RetentionSettings` no longer keeps; any node may run it (the deletes are idempotent).
public struct EventsRetention: Sendable {
    let log: EventLog
    let settings: RetentionSettings
    let clock: any WallClock
    static let batch = 5_000

    public init(log: EventLog, settings: RetentionSettings, clock: any WallClock) {
        self.log = log
        self.settings = settings
        self.clock = clock
    }

    var database: Database { log.database }

    public func run() async throws -> RetentionPass {
        let now = clock.now()
        var pass = RetentionPass()
        pass.events = try await log.prune(before: now.addingTimeInterval(-settings.events), batch: Self.batch)
        let finishedCutoff = now.addingTimeInterval(-settings.finishedJobs).unixMilliseconds
        let deadCutoff = now.addingTimeInterval(-settings.deadLettersAndDeliveries).unixMilliseconds
        pass.jobs = try await deleteRows(of: "events_jobs", where: Self.finishedJobs(before: finishedCutoff, deadBefore: deadCutoff))
        pass.webhookDeliveries = try await deleteRows(of: "events_webhook_deliveries", where: Self.finishedDeliveries(before: deadCutoff))
        return pass
    }

    /// Completed and discarded jobs last changed before `cutoff`, and dead ones before `deadCutoff` (milliseconds).
    static func finishedJobs(before cutoff: Int64, deadBefore deadCutoff: Int64) -> BulkSQL {
        var condition = BulkSQL("(state IN ('completed', 'discarded') AND updated_at < ")
        condition.bind(cutoff)
        condition.append(") OR (state = 'dead' AND updated_at < ")
        condition.bind(deadCutoff)
        condition.append(")")
        return condition
    }

    /// Webhook deliveries that are over (succeeded, dead or skipped) and were created before `cutoff` (milliseconds).
    static func finishedDeliveries(before cutoff: Int64) -> BulkSQL {
        var condition = BulkSQL("state IN ('succeeded', 'dead', 'skipped') AND created_at < ")
        condition.bind(cutoff)
        return condition
    }

    /// Deletes the rows of `table` (keyed by a text `id`) that match `condition`, a batch at a time. Each batch is
    /// found on a reader, outside any transaction (through the table's index on state and age), so the write
    /// transaction only deletes by id; the delete checks the condition again (a dead job may have been retried since).
    private func deleteRows(of table: String, where condition: BulkSQL) async throws -> Int {
        var total = 0
        while true {
            // No ORDER BY: ordered by id, the planner would walk the whole table in id order instead of the index.
            var find = Self.findStatement(table: table, condition: condition)
            find.bind(Self.batch)
            let ids = try await database.sql.all(find).map { try $0.decode(column: "id", as: String.self) }
            guard !ids.isEmpty else { return total }
            var delete = BulkSQL("DELETE FROM \(table) WHERE id IN (")
            delete.list(ids)
            let statement = delete + ") AND (" + condition + ") RETURNING id"
            total += try await database.transaction { sql in try await sql.all(statement).count }
            if ids.count < Self.batch { return total }
        }
    }
}

extension EventsRetention {
    /// The query that finds a batch of rows to delete (its LIMIT bound follows); tests read its plan.
    static func findStatement(table: String, condition: BulkSQL) -> BulkSQL {
        BulkSQL("SELECT id FROM \(table) WHERE ") + condition + " LIMIT "
    }
}

extension EventLog {
    /// Deletes the oldest events, in position order, up to the first one at or after `cutoff`, and never past the
    /// cursor of a consumer that moved since `cutoff` (one that has not moved for the whole retention period, a
    /// consumer of a feature no longer deployed, does not hold the log back; when none moved, the slowest one
    /// does). The newest event always stays: the head position is read from it. Returns how many went.
    public func prune(before cutoff: Date, batch: Int) async throws -> Int {
        let head = try await headPosition()
        var consumersBound = try await slowestCursor(movedSince: cutoff)
        if consumersBound == nil { consumersBound = try await slowestCursor(movedSince: nil) }
        let bound = min(consumersBound ?? head, head - 1)
        let cutoffMilliseconds = cutoff.unixMilliseconds
        var total = 0
        var after: Int64 = 0
        while after < bound {
            // A prefix of the log: stop at the first event that is not old enough (other nodes' clocks may differ a
            // little, so occurred_at is only roughly ordered by position; stopping early keeps more, never less).
            let rows = try await database.sql.raw("""
                SELECT position, occurred_at FROM events_log WHERE position > \(bind: after) AND position <= \(bind: bound)
                ORDER BY position LIMIT \(bind: batch)
                """).all()
            var last: Int64?
            var reachedNewer = false
            for row in rows {
                guard try row.decode(column: "occurred_at", as: Int64.self) < cutoffMilliseconds else {
                    reachedNewer = true
                    break
                }
                last = try row.decode(column: "position", as: Int64.self)
            }
            guard let last else { break }
            let first = after
            total += try await database.transaction { sql in
                try await sql.raw("""
                    DELETE FROM events_log WHERE position > \(bind: first) AND position <= \(bind: last) RETURNING 1 AS one
                    """).all().count
            }
            after = last
            if reachedNewer || rows.count < batch { break }
        }
        return total
    }

    /// The lowest cursor among consumers (those that moved since `movedSince`, when given); nil when there is none.
    private func slowestCursor(movedSince: Date?) async throws -> Int64? {
        let query: SQLQueryString = movedSince.map { "SELECT MIN(position) AS slowest FROM events_consumers WHERE updated_at >= \(bind: $0.unixMilliseconds)" }
            ?? "SELECT MIN(position) AS slowest FROM events_consumers"
        guard let row = try await database.sql.raw(query).first(), try !row.decodeNil(column: "slowest") else { return nil }
        return try row.decode(column: "slowest", as: Int64.self)
    }
}
