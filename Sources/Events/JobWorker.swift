import Foundation
import Logging
import ParleyCore
import ParleyStorage
import ServiceLifecycle
import Synchronization

/// Runs one kind of job. Throw to fail the attempt (it is retried with backoff), or throw
/// `PermanentJobFailure` to send the job straight to the dead letters.
public protocol JobHandler: Sendable {
    var kind: String { get }
    /// How long one attempt may take; the job's lease is this plus a margin.
    var timeout: TimeInterval { get }
    func run(_ job: Job) async throws
}

/// Claims jobs and runs them with bounded concurrency, as a Service.
///
/// On SQLite exactly one process may run workers (`parley serve`, or one `parley worker`): at start it
/// takes over jobs left `running` by a crashed predecessor. On PostgreSQL any number may run; a crashed
/// worker's jobs are claimed again when their leases expire.
///
/// It wakes when a committed transaction enqueued or retried jobs (`parley_jobs`: PostgreSQL's `NOTIFY`, from
/// any process, or SQLite's in-process signal) and when one of its own attempts ends; it also polls, and sleeps
/// no longer than until the next scheduled retry. It does not wake on other commits: it used to, and looked
/// for jobs (two reads) after every message sent.
public final class JobWorker: Service, Sendable {
    let queue: JobQueue
    let handlers: [String: any JobHandler]
    let database: Database
    let workerID: String
    let concurrency: Int
    let pollInterval: Duration
    let logger: Logger
    private let wakeups = ChangeSignal()
    private let inFlight = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let looks = Atomic<Int>(0)

    public init(queue: JobQueue, handlers: [any JobHandler], database: Database, workerID: String, concurrency: Int = 8,
                pollInterval: Duration = .seconds(1), logger: Logger) {
        self.queue = queue
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        self.database = database
        self.workerID = workerID
        self.concurrency = max(1, concurrency)
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Attempts this worker has finished (succeeded or failed), for metrics and tests.
    public var finishedAttempts: Int { finished.load(ordering: .relaxed) }
    /// How many times this worker has looked for due jobs, for tests.
    public var looksForJobs: Int { looks.load(ordering: .relaxed) }

    public func run() async throws {
        let kinds = Set(handlers.keys)
        let released = try await queue.releaseOrphanedJobs()
        if released > 0 { logger.notice("released jobs of a previous process", metadata: ["count": .stringConvertible(released)]) }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self.database.listen(JobQueue.notifyChannel, logger: self.logger) { self.wakeups.notify() }
                }
                group.addTask { await self.loop(kinds: kinds) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    func loop(kinds: Set<String>) async {
        await withTaskGroup(of: Void.self) { running in
            while !Task.isCancelled {
                let generation = wakeups.generation
                let free = concurrency - inFlight.load(ordering: .relaxed)
                var claimed: [Job] = []
                if free > 0 {
                    looks.add(1, ordering: .relaxed)
                    do {
                        let lease = handlers.values.map(\.timeout).max() ?? 60
                        claimed = try await queue.claim(kinds: kinds, limit: free, worker: workerID, lease: lease + 30)
                    } catch where !Task.isCancelled {
                        logger.warning("claiming jobs failed", metadata: ["error": "\(error)"])
                    } catch {
                        // Shutting down: the claim was cut short, which is expected.
                    }
                }
                for job in claimed {
                    inFlight.add(1, ordering: .relaxed)
                    running.addTask {
                        // An attempt runs to its end even when shutdown cancels the loop: cut off halfway, it would
                        // run again after its lease expires (at least once, but needlessly twice).
                        await Task { await self.execute(job) }.value
                        self.inFlight.subtract(1, ordering: .relaxed)
                        self.finished.add(1, ordering: .relaxed)
                        self.wakeups.notify()
                    }
                }
                if claimed.count == free, free > 0 { continue }
                var wait = pollInterval
                if let next = try? await queue.nextRunAt(kinds: kinds) {
                    let seconds = max(0.005, next.timeIntervalSinceNow)
                    if seconds < Double(pollInterval.components.seconds) + 1 { wait = min(wait, .milliseconds(Int(seconds * 1000) + 1)) }
                }
                await wakeups.wait(since: generation, timeout: wait)
            }
            // Shutting down: let the attempts in flight finish (their leases would otherwise expire and rerun them).
            await running.waitForAll()
        }
    }

    func execute(_ job: Job) async {
        guard let handler = handlers[job.kind] else { return }
        var jobLogger = logger
        jobLogger[metadataKey: "job_id"] = .string(job.id)
        jobLogger[metadataKey: "job_kind"] = .string(job.kind)
        jobLogger[metadataKey: "attempt"] = .stringConvertible(job.attempt)
        do {
            try await handler.run(job)
            if try await !queue.complete(job) {
                jobLogger.warning("job finished after its lease was taken over; the newer attempt stands")
            }
        } catch {
            let permanent = error is PermanentJobFailure
            let state = try? await queue.fail(job, error: "\(error)", permanent: permanent)
            jobLogger.notice("job attempt failed", metadata: [
                "error": "\(error)", "next_state": .string(state?.rawValue ?? "none: the lease was taken over"),
            ])
        }
    }
}
