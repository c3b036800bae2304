import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The durable, ordered log of every state change: the outbox other contexts write into, and the
/// source its consumers read with their own cursors.
///
/// Ordering: a consumer reads `position > cursor` and must never miss an event that becomes visible later with
/// a smaller position. SQLite has one writer, so positions are drawn and committed in the same order.
///
/// PostgreSQL commits concurrent transactions in any order, so an event is appended without a position (pending)
/// and is given one afterwards by `placePending`, which readers run before they read: it numbers the pending
/// events it sees, in the order they were appended, from one sequence, under a lock that only one placer at a time
/// holds through its commit. Positions therefore become visible in increasing order, and writers never wait for
/// each other. (Until migration 2, writers took a cluster-wide lock (advisory key 74057266, which writers of that
/// release still take during a rolling upgrade, harmlessly) held through their COMMIT instead: with durable
/// commits every event-writing transaction of the cluster then waited for the previous one's WAL flush, and 32
/// senders were slower than 8; see bench/README.md, session 13.)
public struct EventLog: EventOutbox {
    /// The lock one placer of pending events holds through its commit (`placePending`).
    static let placeLockKey = 74_057_267
    /// How many pending events one placing statement numbers at most.
    static let placeBatch = 2_000
    /// Channel notified when events became readable: on PostgreSQL by the transaction that placed them (every node
    /// listening), on SQLite in process by the transaction that appended them.
    public static let notifyChannel = "parley_events"
    /// In-process channel signalled after a commit that appended events (`EventPlacer` waits on it).
    public static let appendedChannel = "parley_events_appended"

    let database: Database
    let ids: any IDGenerator

    public init(database: Database, ids: any IDGenerator) {
        self.database = database
        self.ids = ids
    }

    public static let migrations = MigrationGroup(context: "events", migrations: [
        Migration(1, "create event log and consumer cursors") { engine in
            [
                """
                CREATE TABLE events_log (
                    position \(engine.autoIncrementPrimaryKey),
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    occurred_at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    payload TEXT NOT NULL
                )
                """,
                "CREATE INDEX events_log_type ON events_log (type, position)",
                """
                CREATE TABLE events_consumers (
                    name TEXT PRIMARY KEY,
                    position BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(2, "append events without the cluster-wide lock; positions placed after commit") { engine in
            guard engine == .postgres else { return [] }
            // The identity's sequence goes with the identity; the new one starts where it stood. Rows of writers of
            // the previous release (no position given) now arrive pending, like the new writers'.
            return [
                "CREATE SEQUENCE events_log_placed_position",
                """
                SELECT CASE WHEN last > 0 THEN setval('events_log_placed_position', last)
                            ELSE setval('events_log_placed_position', 1, false) END
                FROM (SELECT GREATEST(COALESCE((SELECT MAX(position) FROM events_log), 0),
                                      COALESCE(pg_sequence_last_value(pg_get_serial_sequence('events_log', 'position')), 0)) AS last) AS drawn
                """,
                "ALTER TABLE events_log ALTER COLUMN position DROP IDENTITY",
                "ALTER TABLE events_log DROP CONSTRAINT events_log_pkey",
                "ALTER TABLE events_log ALTER COLUMN position DROP NOT NULL",
                "CREATE UNIQUE INDEX events_log_position ON events_log (position)",
                "CREATE SEQUENCE events_log_appended",
                "ALTER TABLE events_log ADD COLUMN appended BIGINT",
                "ALTER TABLE events_log ALTER COLUMN appended SET DEFAULT nextval('events_log_appended')",
                "CREATE INDEX events_log_pending ON events_log (appended) WHERE position IS NULL",
            ]
        },
    ])

    public func append(_ events: [NewEvent], on sql: any SQLDatabase) async throws {
        guard !events.isEmpty else { return }
        if database.engine == .postgres {
            let clauses = appendClauses(events)
            try await sql.run(BulkSQL("WITH ") + clauses.definitions + " SELECT 1 FROM " + clauses.notified)
        } else {
            try await sql.run(BulkSQL("INSERT INTO events_log (id, type, occurred_at, actor, subject, payload) VALUES ") + rows(of: events))
            try await database.notify(Self.notifyChannel, on: sql)
        }
        appended(events)
    }

    /// The rows, pending (`placePending` gives them positions), as one statement's clauses. With `condition`, the rows
    /// are inserted only when that clause yields a row.
    public func appendClauses(_ events: [NewEvent], onlyIf condition: String?) -> EventAppendClauses {
        var statement = BulkSQL("parley_appended AS (INSERT INTO events_log (id, type, occurred_at, actor, subject, payload) ")
        statement.append("SELECT v.id, v.type, v.occurred_at, v.actor, v.subject, v.payload FROM (VALUES ")
        statement = statement + rows(of: events)
        statement.append(") AS v (id, type, occurred_at, actor, subject, payload)")
        if let condition { statement.append(" WHERE EXISTS (SELECT 1 FROM \(condition))") }
        // No NOTIFY here: PostgreSQL serialises the commits of every transaction that notifies (the notification
        // queue's lock is held through the commit's WAL flush), which with durable commits capped the cluster at one
        // send per flush. `appended` wakes this node's `EventPlacer`, whose placing transaction notifies every node.
        statement.append(" RETURNING 1 AS one), parley_notified AS (SELECT 1 FROM parley_appended LIMIT 1)")
        return EventAppendClauses(definitions: statement, notified: "parley_notified")
    }

    public func appended(_ events: [NewEvent]) {
        // PostgreSQL: this node's placer gives them positions (and then wakes every node's readers).
        database.notifyInProcess(Self.appendedChannel)
        // And per type, in this process only: readers that want a few types wake for those alone.
        for type in Set(events.map(\.type)) { database.notifyInProcess(Self.typeChannel(type)) }
    }

    /// The events as the rows of a multi-row `VALUES` list.
    private func rows(of events: [NewEvent]) -> BulkSQL {
        var rows = BulkSQL()
        for (index, event) in events.enumerated() {
            rows.append(index > 0 ? ", " : "")
            rows.row([
                ids.next(prefix: "ev_"), event.type, event.occurredAt.unixMilliseconds, event.actor, event.subject, event.payloadText,
            ])
        }
        return rows
    }

    /// The in-process channel `append` signals after a commit that wrote events of `type` (`Database.signal`).
    public static func typeChannel(_ type: String) -> String {
        "parley_events:" + type
    }

    /// Events after `position`, oldest first, at most `limit`; optionally only the given types.
    public func read(after position: Int64, limit: Int, types: Set<String>? = nil) async throws -> [EventEnvelope] {
        try await placePending()
        return try await read(after: position, limit: limit, types: types, on: database.sql)
    }

    /// Reads like `read(after:limit:types:)`, on the caller's connection or transaction, without placing pending
    /// events first (see `placePending`).
    public func read(after position: Int64, limit: Int, types: Set<String>? = nil, on sql: any SQLDatabase) async throws -> [EventEnvelope] {
        let rows: [any SQLRow]
        if let types, !types.isEmpty {
            let list = SQLList(types.sorted().map { SQLBind($0) })
            rows = try await sql.raw("""
                SELECT * FROM events_log WHERE position > \(bind: position) AND type IN (\(list)) ORDER BY position LIMIT \(bind: limit)
                """).all()
        } else {
            rows = try await sql.raw("""
                SELECT * FROM events_log WHERE position > \(bind: position) ORDER BY position LIMIT \(bind: limit)
                """).all()
        }
        return try rows.map(Self.decode)
    }

    /// Up to `limit` events after `position`, oldest first, of which only those of `types` (all when nil) are
    /// decoded: a reader that moves its cursor past every event, wanted or not, pays the JSON decoding only for
    /// the events it handles.
    public func window(after position: Int64, limit: Int, decoding types: Set<String>?) async throws -> EventWindow {
        let wanted: (@Sendable (String) -> Bool)? = types.map { types in { @Sendable type in types.contains(type) } }
        return try await window(after: position, limit: limit, decoding: wanted)
    }

    /// `window(after:limit:decoding:)` with the wanted types as a predicate (nil: all).
    ///
    /// With a filter, positions and types are read first and only the wanted rows whole, so a reader that wants
    /// few of the events (most consumers, most of the time) does not copy every payload out of the database.
    public func window(after position: Int64, limit: Int, decoding wanted: (@Sendable (String) -> Bool)?) async throws -> EventWindow {
        guard let wanted else {
            let events = try await read(after: position, limit: limit)
            return EventWindow(end: events.last?.position, count: events.count, events: events)
        }
        try await placePending()
        let heads = try await database.sql.raw("""
            SELECT position, type FROM events_log WHERE position > \(bind: position) ORDER BY position LIMIT \(bind: limit)
            """).all()
        var positions: [Int64] = []
        for head in heads where wanted(try head.decode(column: "type", as: String.self)) {
            positions.append(try head.decode(column: "position", as: Int64.self))
        }
        var window = EventWindow(end: try heads.last?.decode(column: "position", as: Int64.self), count: heads.count, events: [])
        guard !positions.isEmpty else { return window }
        // Every position read above is committed, so all of them are found. A range (one statement text, kept
        // prepared) rather than an IN list of varying length; rows in it that are not wanted are skipped.
        let wantedPositions = Set(positions)
        let rows = try await database.sql.raw("""
            SELECT * FROM events_log WHERE position >= \(bind: positions[0]) AND position <= \(bind: positions[positions.count - 1])
            ORDER BY position
            """).all()
        for row in rows where wantedPositions.contains(try row.decode(column: "position", as: Int64.self)) {
            window.events.append(try Self.decode(row))
        }
        return window
    }

    /// A window from `position` to the log's head with no events in it, for a reader that wants none: one read
    /// of the head instead of every position and type in between. (Positions become visible in increasing order on
    /// both engines, see the type's comment, so nothing can appear below the head afterwards.)
    public func emptyWindow(after position: Int64) async throws -> EventWindow {
        let head = try await headPosition()
        return EventWindow(end: head > position ? head : nil, count: 0, events: [])
    }

    /// The position of the newest event, 0 when the log is empty.
    public func headPosition() async throws -> Int64 {
        try await placePending()
        let row = try await database.sql.raw("SELECT COALESCE(MAX(position), 0) AS head FROM events_log").first()
        return try row?.decode(column: "head", as: Int64.self) ?? 0
    }

    /// PostgreSQL: gives the events appended and committed so far without a position theirs, in the order they were
    /// appended, and wakes the readers of every node (NOTIFY) when it placed any. Readers call it before they read,
    /// so whoever reads first after a commit places its events; one placer at a time holds the lock through its
    /// commit (the others find it taken and read what is placed already: its NOTIFY wakes them again), so positions
    /// become visible in increasing order. SQLite: nothing to do (positions are drawn in commit order).
    ///
    /// One statement: the lock is taken before any pending row is read. Its snapshot may predate the previous
    /// placer's commit; a row that placer numbered meanwhile fails the `position IS NULL` recheck of the UPDATE and
    /// keeps its position (the number drawn for it is skipped: positions may have gaps, never repeats).
    public func placePending() async throws {
        guard database.engine == .postgres else { return }
        while true {
            let row = try await database.sql.raw("""
                WITH placer AS (SELECT pg_try_advisory_xact_lock(\(unsafeRaw: String(Self.placeLockKey))) AS holds),
                pending AS (
                    SELECT appended FROM events_log WHERE position IS NULL AND (SELECT holds FROM placer)
                    ORDER BY appended LIMIT \(unsafeRaw: String(Self.placeBatch))
                ),
                numbered AS (
                    SELECT appended, nextval('events_log_placed_position') AS position
                    FROM (SELECT appended FROM pending ORDER BY appended) AS in_order
                ),
                placed AS (
                    UPDATE events_log e SET position = n.position FROM numbered n
                    WHERE e.appended = n.appended AND e.position IS NULL
                    RETURNING 1 AS one
                ),
                woken AS (SELECT pg_notify(\(bind: Self.notifyChannel), '') FROM (SELECT 1 FROM placed LIMIT 1) AS once)
                SELECT (SELECT count(*) FROM placed) AS placed, (SELECT count(*) FROM woken) AS woken
                """).first()
            let placed = try row?.decode(column: "placed", as: Int.self) ?? 0
            guard placed > 0 else { return }
            // This process's consumers wait on its commits.
            database.commits.notify()
            if placed < Self.placeBatch { return }
        }
    }

    /// The durable cursor of a named consumer; 0 when it has never committed one.
    public func cursor(of consumer: String) async throws -> Int64 {
        let row = try await database.sql.raw("SELECT position FROM events_consumers WHERE name = \(bind: consumer)").first()
        return try row?.decode(column: "position", as: Int64.self) ?? 0
    }

    /// A consumer's cursor, locked until the caller's transaction ends, so two runners of the same consumer
    /// (on two nodes) take turns instead of handling the same events twice. Creates the cursor at 0 if needed.
    public func lockCursor(of consumer: String, at now: Date, on sql: any SQLDatabase) async throws -> Int64 {
        try await sql.raw("""
            INSERT INTO events_consumers (name, position, updated_at) VALUES (\(bind: consumer), 0, \(bind: now.unixMilliseconds))
            ON CONFLICT (name) DO NOTHING
            """).run()
        let row = try await sql.raw("""
            SELECT position FROM events_consumers WHERE name = \(bind: consumer)\(unsafeRaw: database.engine.forUpdate)
            """).first()
        return try row?.decode(column: "position", as: Int64.self) ?? 0
    }

    /// Moves a consumer's cursor forward (never backwards).
    public func commit(consumer: String, position: Int64, at now: Date) async throws {
        try await database.transaction { sql in try await commit(consumer: consumer, position: position, at: now, on: sql) }
    }

    /// Moves a consumer's cursor forward inside the caller's transaction.
    public func commit(consumer: String, position: Int64, at now: Date, on sql: any SQLDatabase) async throws {
        do {
            try await sql.raw("""
                INSERT INTO events_consumers (name, position, updated_at) VALUES (\(bind: consumer), \(bind: position), \(bind: now.unixMilliseconds))
                ON CONFLICT (name) DO UPDATE SET
                    position = CASE WHEN excluded.position > events_consumers.position THEN excluded.position ELSE events_consumers.position END,
                    updated_at = excluded.updated_at
                """).run()
        }
    }

    /// Moves a consumer's cursor back to the start of the log inside the caller's transaction, so it replays
    /// every event the log still holds (a rebuild of derived data, e.g. analytics rollups). Only for consumers
    /// whose handling is idempotent or whose derived data the caller has just cleared.
    public func resetCursor(of consumer: String, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE events_consumers SET position = 0, updated_at = \(bind: now.unixMilliseconds) WHERE name = \(bind: consumer)
            """).run()
    }

    /// Every consumer's cursor and how far it trails the head of the log.
    public func consumers() async throws -> [(name: String, position: Int64, lag: Int64, updatedAt: Date)] {
        let head = try await headPosition()
        return try await database.sql.raw("SELECT * FROM events_consumers ORDER BY name").all().map { row in
            let position = try row.decode(column: "position", as: Int64.self)
            return (try row.decode(column: "name", as: String.self), position, max(0, head - position), try row.decodeDate("updated_at"))
        }
    }

    static func decode(_ row: any SQLRow) throws -> EventEnvelope {
        EventEnvelope(
            position: try row.decode(column: "position", as: Int64.self),
            id: try row.decode(column: "id", as: String.self),
            type: try row.decode(column: "type", as: String.self),
            occurredAt: try row.decodeDate("occurred_at"),
            actor: try row.decode(column: "actor", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            payload: try row.decodeJSON("payload")
        )
    }
}

/// A stretch of the log as one reader sees it (`EventLog.window`).
public struct EventWindow: Sendable {
    /// The position of the stretch's last event, of any type (nil when there was none): where the reader's
    /// cursor moves once it has handled `events`.
    public var end: Int64?
    /// How many events the stretch holds, of any type.
    public var count: Int
    /// The events of the types asked for, decoded, oldest first.
    public var events: [EventEnvelope]
}
