import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
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
}
