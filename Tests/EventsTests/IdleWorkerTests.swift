import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization
import Testing

/// An idle worker must stay idle: an empty claim used to commit a transaction, whose commit woke the worker's own
/// watcher, which claimed again: hundreds of empty transactions a second and a busy core with nothing to do.
@Suite struct IdleWorkerTests {
    struct NoJobs: JobHandler {
        let kind = "test.nothing"
        let timeout: TimeInterval = 5
        func run(_ job: Job) async throws {}
    }

    @Test(arguments: TestDatabases.engines)
    func aWorkerWithNothingToDoCommitsNothing(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [JobQueue.migrations]) { database in
            let clock = SystemWallClock()
            let queue = JobQueue(database: database, ids: SortableIDGenerator(clock: clock), clock: clock)
            let worker = JobWorker(queue: queue, handlers: [NoJobs()], database: database, workerID: "idle", concurrency: 2,
                                   logger: TestDatabases.logger)
            let before = database.commits.generation
            let running = Task { try await worker.run() }
            // Not a timing assertion: whatever the machine's speed, an idle worker commits nothing in this second.
            try await Task.sleep(for: .seconds(1))
            let after = database.commits.generation
            running.cancel()
            _ = await running.result
            #expect(after - before <= 1, "an idle worker committed \(after - before) transactions in a second")
        }
    }

    final class CountingHandler: JobHandler {
        let kind = "test.count"
        let timeout: TimeInterval = 5
        let runs = Atomic<Int>(0)
        func run(_ job: Job) async throws { runs.add(1, ordering: .relaxed) }
    }

    /// With a two-minute poll, only the notification of the enqueueing transaction can start the job within the wait.
    @Test(arguments: TestDatabases.engines)
    func aCommittedEnqueueWakesTheWorkerAndUnrelatedCommitsDoNot(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [JobQueue.migrations]) { database in
            let clock = SystemWallClock()
            let queue = JobQueue(database: database, ids: SortableIDGenerator(clock: clock), clock: clock)
            let handler = CountingHandler()
            let worker = JobWorker(queue: queue, handlers: [handler], database: database, workerID: "woken", concurrency: 2,
                                   pollInterval: .seconds(120), logger: TestDatabases.logger)
            let running = Task { try await worker.run() }
            defer { running.cancel() }
            #expect(try await eventually(within: 30) { worker.looksForJobs >= 1 })
            try await Task.sleep(for: .milliseconds(200))

            try await database.sql.raw("CREATE TABLE unrelated (n BIGINT NOT NULL)").run()
            let looksBefore = worker.looksForJobs
            for n in 0..<100 {
                try await database.transaction { sql in try await sql.raw("INSERT INTO unrelated (n) VALUES (\(bind: n))").run() }
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(worker.looksForJobs - looksBefore <= 1, "100 commits without jobs made the worker look \(worker.looksForJobs - looksBefore) times")

            // Enqueued inside a transaction that also does other work: the worker is woken after its commit.
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO unrelated (n) VALUES (1000)").run()
                _ = try await queue.enqueue([NewJob(kind: "test.count", payload: [:])], on: sql)
            }
            #expect(try await eventually(within: 30) { handler.runs.load(ordering: .relaxed) == 1 })
            #expect(handler.runs.load(ordering: .relaxed) == 1)
            running.cancel()
            _ = await running.result
        }
    }
}
