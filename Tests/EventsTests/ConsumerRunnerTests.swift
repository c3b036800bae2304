import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Synchronization
import Testing

/// The consumer runner: a consumer's writes and its cursor commit together, survive restarts, and the
/// cursor passes events the consumer does not want.
@Suite struct ConsumerRunnerTests {
    static let effects = MigrationGroup(context: "test_effects", migrations: [
        Migration(1, "create test effects") { _ in ["CREATE TABLE test_effects (event_id TEXT PRIMARY KEY, type TEXT NOT NULL)"] },
    ])

    /// Records each event it handles as a row, in the runner's transaction; throws after writing when told to.
    final class RecordingConsumer: EventConsumer {
        let name = "recorder"
        let types: Set<String>?
        let failing = Mutex(false)
        let calls = Mutex(0)

        init(types: Set<String>?) { self.types = types }

        func handle(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws {
            calls.withLock { $0 += 1 }
            for event in events {
                try await sql.raw("INSERT INTO test_effects (event_id, type) VALUES (\(bind: event.id), \(bind: event.type))").run()
            }
            if failing.withLock({ $0 }) { throw HandlerFailed() }
        }
    }

    struct HandlerFailed: Error {}

    static func run(_ engine: DatabaseEngine, _ body: @Sendable (Database, EventLog) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations, effects]) { database in
            try await body(database, EventLog(database: database, ids: SortableIDGenerator()))
        }
    }

    static func runner(_ log: EventLog, _ consumer: any EventConsumer, database: Database, batchSize: Int = 200) -> ConsumerRunner {
        ConsumerRunner(log: log, consumers: [consumer], database: database, clock: SystemWallClock(), logger: TestDatabases.logger,
                       batchSize: batchSize)
    }

    static func append(_ log: EventLog, _ database: Database, _ types: String...) async throws {
        try await database.transaction { sql in
            try await log.append(types.enumerated().map { index, type in
                NewEvent(type: type, actor: "test", subject: "s:\(index)", payload: ["i": .int(index)], occurredAt: Date())
            }, on: sql)
        }
    }

    static func effects(_ database: Database) async throws -> [String] {
        try await database.sql.raw("SELECT type FROM test_effects ORDER BY type").all().map { try $0.decode(column: "type", as: String.self) }
    }

    @Test(arguments: TestDatabases.engines)
    func aFailingHandlerLeavesTheCursorWhereItWasAndItsWritesRolledBack(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { database, log in
            let consumer = RecordingConsumer(types: nil)
            let runner = Self.runner(log, consumer, database: database)
            try await Self.append(log, database, "message.created", "message.edited")
            consumer.failing.withLock { $0 = true }
            await #expect(throws: HandlerFailed.self) { try await runner.step(consumer) }
            #expect(try await log.cursor(of: consumer.name) == 0)
            #expect(try await Self.effects(database).isEmpty)

            consumer.failing.withLock { $0 = false }
            try await runner.step(consumer)
            #expect(try await log.cursor(of: consumer.name) == (try await log.headPosition()))
            #expect(try await Self.effects(database) == ["message.created", "message.edited"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theCursorSurvivesARestartAndTheNewRunnerResumesAfterTheLastCommittedEvent(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { database, log in
            try await Self.append(log, database, "a.first", "a.second", "a.third")
            let first = RecordingConsumer(types: nil)
            #expect(try await Self.runner(log, first, database: database, batchSize: 2).step(first) == true, "a full batch: maybe more")
            #expect(try await Self.effects(database) == ["a.first", "a.second"])
            let committed = try await log.cursor(of: "recorder")

            // A new process: a new runner and consumer instance, same consumer name.
            let second = RecordingConsumer(types: nil)
            let restarted = Self.runner(log, second, database: database, batchSize: 2)
            #expect(try await restarted.step(second) == false)
            #expect(try await Self.effects(database) == ["a.first", "a.second", "a.third"])
            #expect(try await log.cursor(of: "recorder") > committed)
            #expect(try await restarted.step(second) == false)
            #expect(second.calls.withLock { $0 } == 1, "nothing new: the handler is not called")

            try await Self.append(log, database, "a.fourth")
            try await restarted.step(second)
            #expect(try await Self.effects(database) == ["a.first", "a.fourth", "a.second", "a.third"])
        }
    }

    /// A consumer that wants nothing for now (no webhook endpoints, no push provider) moves to the head in one
    /// step, past more events than a batch, without handling any.
    @Test(arguments: TestDatabases.engines)
    func aConsumerThatWantsNothingJumpsToTheHead(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { database, log in
            let consumer = RecordingConsumer(types: [])
            let runner = Self.runner(log, consumer, database: database, batchSize: 2)
            try await Self.append(log, database, "user.created", "message.created", "message.created", "user.updated", "x")
            #expect(try await runner.step(consumer) == false)
            #expect(consumer.calls.withLock { $0 } == 0)
            #expect(try await log.cursor(of: consumer.name) == (try await log.headPosition()))
            // Nothing new: no step, no write.
            let commits = database.commits.generation
            #expect(try await runner.step(consumer) == false)
            #expect(database.commits.generation == commits)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func eventsOfOtherTypesStillAdvanceTheCursor(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { database, log in
            let consumer = RecordingConsumer(types: ["message.created"])
            let runner = Self.runner(log, consumer, database: database)
            try await Self.append(log, database, "user.created", "user.updated")
            try await runner.step(consumer)
            #expect(consumer.calls.withLock { $0 } == 0)
            #expect(try await log.cursor(of: consumer.name) == (try await log.headPosition()))

            try await Self.append(log, database, "user.created", "message.created", "conversation.read")
            try await runner.step(consumer)
            #expect(consumer.calls.withLock { $0 } == 1)
            #expect(try await Self.effects(database) == ["message.created"])
            #expect(try await log.cursor(of: consumer.name) == (try await log.headPosition()))
            let consumers = try await log.consumers()
            #expect(consumers.map(\.name) == ["recorder"])
            #expect(consumers.first?.lag == 0)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func twoRunnersOfOneConsumerNeverHandleAnEventTwice(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { database, log in
            for _ in 0..<20 { try await Self.append(log, database, "m.a", "m.b", "m.c") }
            let consumers = [RecordingConsumer(types: nil), RecordingConsumer(types: nil)]
            // Two nodes: a duplicate would violate test_effects' primary key and fail a step.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for consumer in consumers {
                    group.addTask {
                        let runner = Self.runner(log, consumer, database: database, batchSize: 4)
                        while try await runner.step(consumer) {}
                    }
                }
                try await group.waitForAll()
            }
            let count = try await database.sql.raw("SELECT COUNT(*) AS n FROM test_effects").first()?.decode(column: "n", as: Int.self)
            #expect(count == 60)
        }
    }
}
