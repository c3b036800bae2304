@testable import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Testing

@Suite struct RetentionTests {
    static let day: TimeInterval = 86_400
    /// "Now" in these tests: day 100 after the epoch; the default retention keeps 30 days of events.
    static let now = Date(timeIntervalSince1970: 100 * day)

    func event(_ n: Int, onDay day: Double) -> NewEvent {
        NewEvent(type: "test.event", actor: "system", subject: "test:\(n)", payload: .object(["n": .int(n)]),
                 occurredAt: Date(timeIntervalSince1970: day * Self.day))
    }

    func subjects(_ log: EventLog) async throws -> [String] {
        try await log.read(after: 0, limit: 100).map(\.subject)
    }

    @Test(arguments: TestDatabases.engines)
    func oldEventsGoOnceEveryRunningConsumerHasReadThemAndTheNewestAlwaysStays(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations, JobQueue.migrations, WebhookService.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            let clock = ManualWallClock(Self.now)
            let retention = EventsRetention(log: log, settings: RetentionSettings(), clock: clock)
            for (n, day) in [(1, 1.0), (2, 2), (3, 3), (4, 4), (5, 5), (6, 99), (7, 99.5)] {
                try await database.transaction { sql in try await log.append(event(n, onDay: day), on: sql) }
            }
            let positions = try await log.read(after: 0, limit: 100).map(\.position)
            // A consumer at the head, one that has read up to event 3, both running; and one that stopped on day 2,
            // long before the retention period, at event 1 (a feature no longer deployed).
            try await log.commit(consumer: "fast", position: positions[6], at: Self.now)
            try await log.commit(consumer: "slow", position: positions[2], at: Self.now)
            try await log.commit(consumer: "gone", position: positions[0], at: Date(timeIntervalSince1970: 2 * Self.day))

            #expect(try await retention.run().events == 3)
            #expect(try await subjects(log) == ["test:4", "test:5", "test:6", "test:7"])

            // Once the slow one has read everything, the rest of the old events go; the recent ones stay.
            try await log.commit(consumer: "slow", position: positions[6], at: Self.now)
            #expect(try await retention.run().events == 2)
            #expect(try await subjects(log) == ["test:6", "test:7"])
            #expect(try await retention.run().events == 0)

            // Much later everything is old: all but the newest go, so the head position still reads from the log.
            clock.set(Self.now.addingTimeInterval(365 * Self.day))
            try await log.commit(consumer: "fast", position: positions[6], at: clock.now())
            #expect(try await retention.run().events == 1)
            #expect(try await subjects(log) == ["test:7"])
            #expect(try await log.headPosition() == positions[6])
            // A new event still gets a position after every one ever used.
            try await database.transaction { sql in try await log.append(event(8, onDay: 465), on: sql) }
            #expect(try await log.read(after: positions[6], limit: 10).map(\.subject) == ["test:8"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func finishedJobsAndWebhookDeliveriesGoAfterTheirPeriodsAndWorkInProgressStays(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations, JobQueue.migrations, WebhookService.migrations]) { database in
            let clock = ManualWallClock(Date(timeIntervalSince1970: 50 * Self.day))
            let ids = SortableIDGenerator(clock: clock)
            let jobs = JobQueue(database: database, ids: ids, clock: clock)
            let retention = EventsRetention(log: EventLog(database: database, ids: ids), settings: RetentionSettings(), clock: clock)

            // Day 50: four jobs; one completes, one goes dead, one is discarded, one waits (for day 200).
            let created = try await jobs.enqueue([
                NewJob(kind: "k", payload: .object([:])), NewJob(kind: "k", payload: .object([:]), maxAttempts: 1),
                NewJob(kind: "k", payload: .object([:])),
                NewJob(kind: "k", payload: .object([:]), runAt: Date(timeIntervalSince1970: 200 * Self.day), uniqueKey: "later"),
            ])
            let claimed = try await jobs.claim(kinds: ["k"], limit: 3, worker: "w", lease: 60)
            #expect(claimed.count == 3)
            try await jobs.complete(try #require(claimed.first { $0.id == created[0] }))
            try await jobs.fail(try #require(claimed.first { $0.id == created[1] }), error: "boom")
            try await jobs.fail(try #require(claimed.first { $0.id == created[2] }), error: "transient")
            #expect(try await jobs.discard(created[2]))
            // Webhook deliveries of day 50 in every state (rows as WebhookService writes them).
            for state in ["pending", "succeeded", "retrying", "dead", "skipped"] {
                try await database.sql.raw("""
                    INSERT INTO events_webhook_deliveries (id, endpoint_id, event_id, event_type, event_position, state, attempts, created_at)
                    VALUES (\(bind: ids.next(prefix: "wd_")), 'we_1', \(bind: "ev_" + state), 'test.event', 1, \(bind: state), 1,
                        \(bind: clock.now().unixMilliseconds))
                    """).run()
            }

            // Day 56: nothing is old enough yet.
            clock.set(Date(timeIntervalSince1970: 56 * Self.day))
            #expect(try await retention.run() == RetentionPass())
            // Day 58: completed and discarded jobs (7 days) go; the dead one is a dead letter (30 days).
            clock.set(Date(timeIntervalSince1970: 58 * Self.day))
            #expect(try await retention.run().jobs == 2)
            #expect(try await jobs.job(created[0]) == nil)
            #expect(try await jobs.job(created[2]) == nil)
            #expect(try await jobs.job(created[1])?.state == .dead)
            // Day 81: the dead job and the finished deliveries go; work in progress stays.
            clock.set(Date(timeIntervalSince1970: 81 * Self.day))
            let pass = try await retention.run()
            #expect(pass.jobs == 1)
            #expect(pass.webhookDeliveries == 3)
            #expect(try await jobs.job(created[3])?.state == .available)
            let states = try await database.sql.raw("SELECT state FROM events_webhook_deliveries ORDER BY state").all()
                .map { try $0.decode(column: "state", as: String.self) }
            #expect(states == ["pending", "retrying"])
        }
    }

    /// The hourly pass finds what to delete through an index, not by reading every job and delivery (SQLite's plan;
    /// PostgreSQL's planner picks by table statistics).
    @Test func finishedJobsAndDeliveriesAreFoundThroughAnIndex() async throws {
        try await TestDatabases.withDatabase(.sqlite, migrations: [EventLog.migrations, JobQueue.migrations, WebhookService.migrations]) {
            database in
            let queries = [
                EventsRetention.findStatement(table: "events_jobs", condition: EventsRetention.finishedJobs(before: 1, deadBefore: 2)),
                EventsRetention.findStatement(table: "events_webhook_deliveries", condition: EventsRetention.finishedDeliveries(before: 1)),
            ]
            for var query in queries {
                query.bind(5000)
                let plan = try await database.sql.all(BulkSQL("EXPLAIN QUERY PLAN ") + query)
                    .map { try $0.decode(column: "detail", as: String.self) }
                #expect(plan.contains { $0.contains("_by_state_age") }, "plan: \(plan)")
                #expect(!plan.contains { $0.hasPrefix("SCAN") }, "plan: \(plan)")
            }
        }
    }
}
