import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The durable job queue, in Parley's own database.
///
/// Guarantees: a committed job runs at least once (a worker that dies leaves its lease to expire, then
/// the job is claimed again); one attempt, named by (job id, attempt number), is run by one worker only:
/// claims lock rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite) and a worker
/// whose lease was taken over cannot complete or fail the job any more.
public struct JobQueue: Sendable {
    public static let notifyChannel = "parley_jobs"

    let database: Database
    let ids: any IDGenerator
    let clock: any WallClock
    public let backoff: Backoff

    public init(database: Database, ids: any IDGenerator, clock: any WallClock, backoff: Backoff = Backoff()) {
        self.database = database
        self.ids = ids
        self.clock = clock
        self.backoff = backoff
    }

    public static let migrations = MigrationGroup(context: "jobs", migrations: [
        Migration(1, "create jobs") { _ in
            [
                """
                CREATE TABLE events_jobs (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    state TEXT NOT NULL,
                    priority BIGINT NOT NULL,
                    run_at BIGINT NOT NULL,
                    attempt BIGINT NOT NULL,
                    max_attempts BIGINT NOT NULL,
                    unique_key TEXT UNIQUE,
                    locked_by TEXT,
                    locked_until BIGINT,
                    last_error TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    completed_at BIGINT
                )
                """,
                "CREATE INDEX events_jobs_ready ON events_jobs (state, priority, run_at)",
                "CREATE INDEX events_jobs_by_kind ON events_jobs (kind, state, id)",
            ]
        },
        // Retention finds finished and dead jobs by state and age (`EventsRetention`) without reading the others.
        Migration(2, "index jobs by state and last change") { _ in
            ["CREATE INDEX events_jobs_by_state_age ON events_jobs (state, updated_at)"]
        },
    ])

    /// Enqueues jobs inside the caller's transaction (so they exist exactly when the change that caused
    /// them does). Jobs whose unique key exists already are skipped. Returns the ids of new jobs.
    @discardableResult
    public func enqueue(_ jobs: [NewJob], on sql: any SQLDatabase) async throws -> [String] {
        let now = clock.now().unixMilliseconds
        var created: [String] = []
        for job in jobs {
            guard job.maxAttempts >= 1 else { throw ParleyError.invalidField("max_attempts", "at least 1") }
            let id = ids.next(prefix: "j_")
            let rows = try await sql.raw("""
                INSERT INTO events_jobs (id, kind, payload, state, priority, run_at, attempt, max_attempts, unique_key, created_at, updated_at)
                VALUES (\(bind: id), \(bind: job.kind), \(bind: try job.payload.jsonText()), 'available', \(bind: job.priority),
                    \(bind: job.runAt?.unixMilliseconds ?? now), 0, \(bind: job.maxAttempts), \(bind: job.uniqueKey), \(bind: now), \(bind: now))
                ON CONFLICT (unique_key) DO NOTHING RETURNING id
                """).all()
            if !rows.isEmpty { created.append(id) }
        }
        if !created.isEmpty { try await database.notify(Self.notifyChannel, on: sql) }
        return created
    }

    /// Enqueues in a transaction of its own.
    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> [String] {
        try await database.transaction { sql in try await enqueue(jobs, on: sql) }
    }

    /// Claims up to `limit` runnable jobs of the given kinds for `worker`, leasing each for `lease` seconds.
    public func claim(kinds: Set<String>, limit: Int, worker: String, lease: TimeInterval) async throws -> [Job] {
        guard limit > 0, !kinds.isEmpty else { return [] }
        let now = clock.now()
        let kindList = SQLList(kinds.sorted().map { SQLBind($0) })
        // A cheap look first, outside any transaction: an empty claim must not commit. Every commit wakes the
        // worker's own commit watcher, so empty claim transactions kept an idle worker claiming in a tight loop
        // (one core busy, and every other commit waiter woken hundreds of times a second).
        let due = try await database.sql.raw("""
            SELECT id FROM events_jobs
            WHERE kind IN (\(kindList)) AND ((state = 'available' AND run_at <= \(bind: now.unixMilliseconds))
                OR (state = 'running' AND locked_until < \(bind: now.unixMilliseconds)))
            LIMIT 1
            """).first()
        guard due != nil else { return [] }
        return try await database.transaction { sql in
            let candidates = try await sql.raw("""
                SELECT id FROM events_jobs
                WHERE kind IN (\(kindList)) AND ((state = 'available' AND run_at <= \(bind: now.unixMilliseconds))
                    OR (state = 'running' AND locked_until < \(bind: now.unixMilliseconds)))
                ORDER BY priority, run_at, id LIMIT \(bind: limit)\(unsafeRaw: database.engine.forUpdateSkipLocked)
                """).all().map { try $0.decode(column: "id", as: String.self) }
            guard !candidates.isEmpty else { return [] }
            let rows = try await sql.raw("""
                UPDATE events_jobs SET state = 'running', attempt = attempt + 1, locked_by = \(bind: worker),
                    locked_until = \(bind: now.addingTimeInterval(lease).unixMilliseconds), updated_at = \(bind: now.unixMilliseconds)
                WHERE id IN (\(SQLList(candidates.map { SQLBind($0) }))) RETURNING *
                """).all()
            return try rows.map(Self.decode).sorted { ($0.priority, $0.runAt, $0.id) < ($1.priority, $1.runAt, $1.id) }
        }
    }

    /// Marks an attempt done. Returns false when the attempt no longer owns the job (its lease was taken over).
    @discardableResult
    public func complete(_ job: Job) async throws -> Bool {
        let now = clock.now().unixMilliseconds
        return try await database.transaction { sql in
            try await !sql.raw("""
                UPDATE events_jobs SET state = 'completed', completed_at = \(bind: now), updated_at = \(bind: now), locked_by = NULL,
                    locked_until = NULL, last_error = NULL
                WHERE id = \(bind: job.id) AND state = 'running' AND locked_by = \(bind: job.lockedBy) AND attempt = \(bind: job.attempt)
                RETURNING id
                """).all().isEmpty
        }
    }

    /// Records a failed attempt: the job is retried after a backoff, or goes dead after its last attempt
    /// (or at once when `permanent`). Returns the new state, or nil when the attempt no longer owned the job.
    @discardableResult
    public func fail(_ job: Job, error: String, permanent: Bool = false) async throws -> Job.State? {
        let now = clock.now()
        let dead = permanent || job.attempt >= job.maxAttempts
        let next = now.addingTimeInterval(backoff.delay(afterAttempt: job.attempt))
        let state: Job.State = dead ? .dead : .available
        return try await database.transaction { sql in
            let rows = try await sql.raw("""
                UPDATE events_jobs SET state = \(bind: state.rawValue), run_at = \(bind: dead ? job.runAt.unixMilliseconds : next.unixMilliseconds),
                    last_error = \(bind: String(error.prefix(2000))), locked_by = NULL, locked_until = NULL,
                    updated_at = \(bind: now.unixMilliseconds)
                WHERE id = \(bind: job.id) AND state = 'running' AND locked_by = \(bind: job.lockedBy) AND attempt = \(bind: job.attempt)
                RETURNING id
                """).all()
            return rows.isEmpty ? nil : state
        }
    }

    /// Runs a dead, discarded or completed job again from scratch (attempts reset). Returns false for an unknown job.
    public func retry(_ id: String) async throws -> Bool {
        let now = clock.now().unixMilliseconds
        return try await database.transaction { sql in
            let rows = try await sql.raw("""
                UPDATE events_jobs SET state = 'available', attempt = 0, run_at = \(bind: now), locked_by = NULL, locked_until = NULL,
                    completed_at = NULL, updated_at = \(bind: now)
                WHERE id = \(bind: id) AND state <> 'running' RETURNING id
                """).all()
            if !rows.isEmpty { try await database.notify(Self.notifyChannel, on: sql) }
            return !rows.isEmpty
        }
    }

    /// Takes a job out of the queue for good (it stays listed as `discarded`).
    public func discard(_ id: String) async throws -> Bool {
        let now = clock.now().unixMilliseconds
        return try await database.transaction { sql in
            try await !sql.raw("""
                UPDATE events_jobs SET state = 'discarded', locked_by = NULL, locked_until = NULL, updated_at = \(bind: now)
                WHERE id = \(bind: id) AND state IN ('available', 'dead', 'running') RETURNING id
                """).all().isEmpty
        }
    }

    /// Makes every running job claimable again. Only for SQLite at worker start: there a single process
    /// runs jobs, so anything still `running` belonged to a process that died.
    @discardableResult
    public func releaseOrphanedJobs() async throws -> Int {
        guard database.engine == .sqlite else { return 0 }
        let now = clock.now().unixMilliseconds
        return try await database.transaction { sql in
            try await sql.raw("""
                UPDATE events_jobs SET state = 'available', locked_by = NULL, locked_until = NULL, run_at = \(bind: now),
                    updated_at = \(bind: now) WHERE state = 'running' RETURNING id
                """).all().count
        }
    }

    public func job(_ id: String) async throws -> Job? {
        try await database.sql.raw("SELECT * FROM events_jobs WHERE id = \(bind: id)").first().map(Self.decode)
    }

    public func job(uniqueKey: String) async throws -> Job? {
        try await database.sql.raw("SELECT * FROM events_jobs WHERE unique_key = \(bind: uniqueKey)").first().map(Self.decode)
    }

    /// Jobs by state (and kind), newest id first, with a cursor.
    public func list(state: Job.State?, kind: String?, page: PageRequest) async throws -> Page<Job> {
        var conditions: [SQLQueryString] = []
        if let state { conditions.append("state = \(bind: state.rawValue)") }
        if let kind { conditions.append("kind = \(bind: kind)") }
        if let cursor = page.cursor { conditions.append("id < \(bind: try Cursor.decode(cursor))") }
        let whereClause: SQLQueryString = conditions.isEmpty ? "" : "WHERE \(conditions.joined(separator: " AND "))"
        let jobs = try await database.sql.raw("SELECT * FROM events_jobs \(whereClause) ORDER BY id DESC LIMIT \(bind: page.limit + 1)")
            .all().map(Self.decode)
        return Page(fetched: jobs, limit: page.limit, position: \.id)
    }

    /// How many jobs are in each state.
    public func counts() async throws -> [Job.State: Int] {
        var result = Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0, 0) })
        for row in try await database.sql.raw("SELECT state, COUNT(*) AS n FROM events_jobs GROUP BY state").all() {
            if let state = Job.State(rawValue: try row.decode(column: "state", as: String.self)) {
                result[state] = try row.decode(column: "n", as: Int.self)
            }
        }
        return result
    }

    /// When the earliest waiting job becomes runnable, if any.
    public func nextRunAt(kinds: Set<String>) async throws -> Date? {
        guard !kinds.isEmpty else { return nil }
        let row = try await database.sql.raw("""
            SELECT MIN(run_at) AS next FROM events_jobs WHERE state = 'available' AND kind IN (\(SQLList(kinds.sorted().map { SQLBind($0) })))
            """).first()
        return try row?.decodeOptional("next", as: Int64.self).map(Date.init(unixMilliseconds:))
    }

    static func decode(_ row: any SQLRow) throws -> Job {
        Job(
            id: try row.decode(column: "id", as: String.self),
            kind: try row.decode(column: "kind", as: String.self),
            payload: try row.decodeJSON("payload"),
            state: Job.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .available,
            priority: try row.decode(column: "priority", as: Int.self),
            runAt: try row.decodeDate("run_at"),
            attempt: try row.decode(column: "attempt", as: Int.self),
            maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            uniqueKey: try row.decodeOptional("unique_key", as: String.self),
            lockedBy: try row.decodeOptional("locked_by", as: String.self),
            lockedUntil: try row.decodeOptionalDate("locked_until"),
            lastError: try row.decodeOptional("last_error", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            updatedAt: try row.decodeDate("updated_at"),
            completedAt: try row.decodeOptionalDate("completed_at")
        )
    }
}
