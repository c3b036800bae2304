import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Testing

/// How events get their positions (`EventLog.placePending`): on PostgreSQL writers append without one and readers
/// place what was committed, one placer at a time; on SQLite positions are drawn in commit order. Either way a
/// reader never skips an event and never sees one twice.
@Suite struct EventPlacementTests {
    func event(_ n: Int) -> NewEvent {
        NewEvent(type: "t", actor: "system", subject: "test:\(n)", payload: .object(["n": .int(n)]), occurredAt: Date(unixMilliseconds: Int64(n)))
    }

    /// Several readers place events concurrently (each one's read places what it finds pending) while writers append,
    /// some with two statements per transaction: every reader sees every event once, in position order, and the two
    /// events of one transaction in the order they were appended.
    @Test(arguments: TestDatabases.engines)
    func concurrentReadersPlacingEventsEachSeeEveryEventOnceInOrder(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            let writers = 6, perWriter = 20, readers = 3
            let total = writers * perWriter * 2
            let views = try await withThrowingTaskGroup(of: [EventEnvelope]?.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for index in 0..<perWriter {
                            let n = (writer * 1000 + index) * 2
                            try await database.transaction { sql in
                                try await log.append(event(n), on: sql)
                                if index % 3 == 0 { try await Task.sleep(for: .milliseconds(1)) }
                                try await log.append(event(n + 1), on: sql)
                            }
                        }
                        return nil
                    }
                }
                for _ in 0..<readers { group.addTask { try await log.tail(until: total, batch: 40) } }
                var views: [[EventEnvelope]] = []
                for try await view in group { if let view { views.append(view) } }
                return views
            }
            #expect(views.count == readers)
            for view in views {
                let positions = view.map(\.position)
                #expect(view.count == total)
                #expect(Set(positions).count == positions.count, "an event seen twice")
                #expect(positions == positions.sorted())
                let order = Dictionary(uniqueKeysWithValues: view.enumerated().map { ($1.subject, $0) })
                for even in stride(from: 0, to: writers * 1000 * 2, by: 2) where order["test:\(even)"] != nil {
                    #expect(order["test:\(even)"]! < order["test:\(even + 1)"]!, "a transaction's events out of order")
                }
            }
            // Every reader saw the same positions: each event has exactly one.
            #expect(Set(views.map { $0.map(\.position) }).count == 1)
        }
    }

    /// More pending events than one placing statement numbers (2,000) are all placed, in the order appended.
    @Test(arguments: TestDatabases.engines)
    func aLargeAppendIsPlacedWholeAndInOrder(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            try await database.transaction { sql in try await log.append((0..<2_500).map(event), on: sql) }
            let all = try await log.read(after: 0, limit: 3_000)
            #expect(all.map(\.subject) == (0..<2_500).map { "test:\($0)" })
            #expect(try await log.headPosition() == all.last?.position)
        }
    }

    /// PostgreSQL: a writer of the previous release (during a rolling upgrade) takes the old append lock and inserts
    /// without a position; its event is placed after every event before it, like a new writer's.
    @Test func anEventAppendedTheWayThePreviousReleaseDidIsPlaced() async throws {
        guard TestDatabases.postgresURL != nil else { return }
        try await TestDatabases.withDatabase(.postgres, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            try await database.transaction { sql in try await log.append(event(1), on: sql) }
            try await database.sql.raw("""
                WITH parley_appending AS (SELECT pg_advisory_xact_lock(74057266)),
                parley_appended AS (INSERT INTO events_log (id, type, occurred_at, actor, subject, payload)
                    SELECT 'ev_old', 't', 2, 'system', 'test:2', '{"n":2}' FROM parley_appending RETURNING position)
                SELECT position FROM parley_appended
                """).run()
            try await database.transaction { sql in try await log.append(event(3), on: sql) }
            let all = try await log.read(after: 0, limit: 10)
            #expect(all.map(\.subject) == ["test:1", "test:2", "test:3"])
            #expect(all.map(\.position) == all.map(\.position).sorted())
        }
    }

    /// PostgreSQL: the node's `EventPlacer` gives an appended event its position right after the commit, without any
    /// reader asking, and wakes every node's listeners.
    @Test func thePlacerPlacesAppendedEventsAndWakesListeners() async throws {
        guard TestDatabases.postgresURL != nil else { return }
        try await TestDatabases.withDatabase(.postgres, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            // A poll far beyond the test's wait: only the appended signal can make it place in time.
            let placer = EventPlacer(log: log, database: database, logger: TestDatabases.logger, pollInterval: .seconds(600))
            let woken = ChangeSignal()
            let listening = ChangeSignal()
            let background = Task {
                await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await placer.run() }
                    group.addTask {
                        await database.listenPayloads(EventLog.notifyChannel, logger: TestDatabases.logger,
                                                      onListening: { listening.notify() }, onPayload: { _ in woken.notify() })
                    }
                    try? await group.waitForAll()
                }
            }
            defer { background.cancel() }
            #expect(try await eventually { listening.generation > 0 })
            // Let the placer's first pass (nothing pending) finish, so what follows is the signal's doing.
            try await Task.sleep(for: .milliseconds(200))
            let wokenBefore = woken.generation
            try await database.transaction { sql in try await log.append(event(1), on: sql) }
            // Checked without `read`, which would place it itself.
            let placed: @Sendable () async throws -> Bool = {
                try await database.sql.raw("SELECT count(*) AS n FROM events_log WHERE position IS NOT NULL").first()?
                    .decode(column: "n", as: Int.self) == 1
            }
            #expect(try await eventually(placed))
            #expect(try await eventually { woken.generation > wokenBefore })
        }
    }

    /// PostgreSQL: a log written before migration 2 keeps its positions, and later events are placed after them.
    @Test func theMigrationKeepsEveryPositionAndPlacesLaterEventsAfterThem() async throws {
        guard TestDatabases.postgresURL != nil else { return }
        let before = MigrationGroup(context: "events", migrations: [EventLog.migrations.migrations[0]])
        try await TestDatabases.withDatabase(.postgres, migrations: [before]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            // The first schema gives positions at insert (its identity); a rolled-back insert uses one up.
            try await database.transaction { sql in try await log.append([event(1), event(2)], on: sql) }
            struct Abort: Error {}
            _ = try? await database.transaction { sql in
                try await log.append(event(99), on: sql)
                throw Abort()
            }
            let old = try await log.read(after: 0, limit: 10, on: database.sql)
            #expect(old.map(\.subject) == ["test:1", "test:2"])
            _ = try await Migrator(database: database).migrate([EventLog.migrations])
            try await database.transaction { sql in try await log.append(event(3), on: sql) }
            let all = try await log.read(after: 0, limit: 10)
            #expect(all.map(\.subject) == ["test:1", "test:2", "test:3"])
            #expect(Array(all.prefix(2).map(\.position)) == old.map(\.position))
            #expect(all[2].position > 3, "placed after every position the old identity drew, the rolled-back one too")
        }
    }

    /// PostgreSQL: a long transaction elsewhere (here one holding a transaction id and a row lock) does not hold
    /// events back: placing depends on what has committed, not on the oldest transaction still running.
    @Test func aLongTransactionElsewhereDoesNotHoldEventsBack() async throws {
        guard TestDatabases.postgresURL != nil else { return }
        try await TestDatabases.withDatabase(.postgres, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            let holding = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            let long = Task {
                try await database.transaction { sql in
                    try await log.commit(consumer: "long", position: 1, at: Date(), on: sql)
                    holding.continuation.yield()
                    for await _ in release.stream { break }
                }
            }
            for await _ in holding.stream { break }
            try await database.transaction { sql in try await log.append(event(1), on: sql) }
            let seen = try await log.read(after: 0, limit: 10)
            release.continuation.finish()
            try await long.value
            #expect(seen.map(\.subject) == ["test:1"])
        }
    }
}

extension EventLog {
    /// Reads the log from the start, as a consumer would with its cursor, until it has `count` events or a minute
    /// passed (a bound, not a timing assertion: a reader that skipped an event would otherwise wait forever).
    func tail(until count: Int, batch limit: Int) async throws -> [EventEnvelope] {
        var cursor: Int64 = 0
        var seen: [EventEnvelope] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while seen.count < count, ContinuousClock.now < deadline {
            let batch = try await read(after: cursor, limit: limit)
            seen += batch
            cursor = batch.last?.position ?? cursor
            if batch.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        }
        return seen
    }
}
