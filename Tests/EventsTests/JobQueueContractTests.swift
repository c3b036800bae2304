import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization
import Testing

/// The job queue's guarantees, on every engine: leases, backoff, dead letters, retry and discard, and
/// that concurrent claimers never share an attempt.
@Suite struct JobQueueContractTests {
    /// A queue on a fresh database, with a hand-moved clock and `Backoff(base: 1, cap: 60)`.
    static func withQueue(_ engine: DatabaseEngine, _ body: @Sendable (JobQueue, ManualWallClock) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [JobQueue.migrations]) { database in
            let clock = ManualWallClock()
            let queue = JobQueue(database: database, ids: SortableIDGenerator(), clock: clock, backoff: Backoff(base: 1, cap: 60))
            try await body(queue, clock)
        }
    }

    static func job(_ n: Int, maxAttempts: Int = 12, uniqueKey: String? = nil) -> NewJob {
        NewJob(kind: "test.work", payload: ["n": .int(n)], maxAttempts: maxAttempts, uniqueKey: uniqueKey)
    }

    @Test(arguments: TestDatabases.engines)
    func anEnqueuedJobIsClaimedOnceAndCompleted(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            let ids = try await queue.enqueue([Self.job(1), Self.job(2)])
            #expect(ids.count == 2)
            #expect(try await queue.claim(kinds: ["other.kind"], limit: 10, worker: "w1", lease: 60).isEmpty)
            let claimed = try await queue.claim(kinds: ["test.work"], limit: 10, worker: "w1", lease: 60)
            #expect(Set(claimed.map(\.id)) == Set(ids))
            #expect(claimed.allSatisfy { $0.state == .running && $0.attempt == 1 && $0.lockedBy == "w1" && $0.lockedUntil != nil })
            #expect(try await queue.claim(kinds: ["test.work"], limit: 10, worker: "w2", lease: 60).isEmpty)
            for job in claimed { #expect(try await queue.complete(job)) }
            let done = try #require(try await queue.job(ids[0]))
            #expect(done.state == .completed)
            #expect(done.completedAt != nil)
            #expect(done.lockedBy == nil)
            #expect(try await queue.claim(kinds: ["test.work"], limit: 10, worker: "w1", lease: 60).isEmpty)
            #expect(try await queue.counts()[.completed] == 2)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aSecondJobWithTheSameUniqueKeyIsNotEnqueued(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            let first = try await queue.enqueue([Self.job(1, uniqueKey: "only-once")])
            let second = try await queue.enqueue([Self.job(2, uniqueKey: "only-once"), Self.job(3, uniqueKey: "another")])
            #expect(first.count == 1)
            #expect(second.count == 1)
            #expect(try await queue.job(uniqueKey: "only-once")?.payload == ["n": 1])
            let page = try await queue.list(state: nil, kind: nil, page: try PageRequest(limit: 10))
            #expect(page.items.count == 2)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aFailingJobIsRetriedWithGrowingBackoffThenGoesDead(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, clock in
            let id = try #require(try await queue.enqueue([Self.job(1, maxAttempts: 3)]).first)
            var delays: [Double] = []
            for attempt in 1...3 {
                let claimed = try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w", lease: 60)
                let job = try #require(claimed.first, "attempt \(attempt) was not claimable")
                #expect(job.attempt == attempt)
                let state = try await queue.fail(job, error: "boom \(attempt)")
                let after = try #require(try await queue.job(id))
                #expect(after.lastError == "boom \(attempt)")
                if attempt < 3 {
                    #expect(state == .available)
                    let delay = after.runAt.timeIntervalSince(clock.now())
                    // base · 2^(attempt-1), between half and all of it.
                    let full = pow(2, Double(attempt - 1))
                    #expect(delay >= full / 2 - 0.002 && delay <= full + 0.002, "delay \(delay) after attempt \(attempt)")
                    delays.append(delay)
                    // Not claimable before its run_at...
                    clock.advance(by: delay - 0.01)
                    #expect(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w", lease: 60).isEmpty)
                    // ...and claimable from then on.
                    clock.advance(by: 0.02)
                } else {
                    #expect(state == .dead)
                    #expect(after.state == .dead)
                    #expect(after.attempt == 3)
                }
            }
            #expect(delays.count == 2 && delays[1] >= delays[0], "the backoff grows: \(delays)")
            clock.advance(by: 3600)
            #expect(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w", lease: 60).isEmpty)
            #expect(try await queue.counts()[.dead] == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aPermanentFailureGoesStraightToDead(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            let id = try #require(try await queue.enqueue([Self.job(1, maxAttempts: 10)]).first)
            let job = try #require(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w", lease: 60).first)
            let failure = PermanentJobFailure("the payload names nothing")
            #expect(try await queue.fail(job, error: "\(failure)", permanent: true) == .dead)
            let dead = try #require(try await queue.job(id))
            #expect(dead.state == .dead)
            #expect(dead.attempt == 1)
            #expect(dead.lastError == "the payload names nothing")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func anExpiredLeaseMakesTheJobClaimableAgainAndTheStaleAttemptCannotFinishIt(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, clock in
            let id = try #require(try await queue.enqueue([Self.job(1)]).first)
            let stale = try #require(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w1", lease: 10).first)
            clock.advance(by: 5)
            #expect(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w2", lease: 10).isEmpty)
            clock.advance(by: 6)
            let fresh = try #require(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w2", lease: 10).first)
            #expect(fresh.id == id)
            #expect(fresh.attempt == stale.attempt + 1)
            #expect(fresh.lockedBy == "w2")
            // The worker whose lease was taken over can neither complete nor fail the job now.
            #expect(try await queue.complete(stale) == false)
            #expect(try await queue.fail(stale, error: "late") == nil)
            #expect(try await queue.job(id)?.state == .running)
            // Even a stale attempt of the same worker name is refused: (id, attempt) names the attempt.
            var sameWorkerStale = fresh
            sameWorkerStale.attempt = stale.attempt
            #expect(try await queue.complete(sameWorkerStale) == false)
            #expect(try await queue.complete(fresh))
            #expect(try await queue.job(id)?.state == .completed)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func retryRevivesADeadJobWithFreshAttempts(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            let id = try #require(try await queue.enqueue([Self.job(1, maxAttempts: 1)]).first)
            let job = try #require(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w", lease: 60).first)
            #expect(try await queue.retry(id) == false, "a running job is not retried")
            #expect(try await queue.fail(job, error: "boom") == .dead)
            #expect(try await queue.retry(id))
            let revived = try #require(try await queue.job(id))
            #expect(revived.state == .available)
            #expect(revived.attempt == 0)
            let again = try #require(try await queue.claim(kinds: ["test.work"], limit: 1, worker: "w", lease: 60).first)
            #expect(again.attempt == 1)
            #expect(try await queue.complete(again))
            #expect(try await queue.retry("j_unknown") == false)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aDiscardedJobIsNeverClaimedAndStaysListed(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            let ids = try await queue.enqueue([Self.job(1), Self.job(2)])
            #expect(try await queue.discard(ids[0]))
            #expect(try await queue.discard(ids[0]) == false, "already discarded")
            let claimed = try await queue.claim(kinds: ["test.work"], limit: 10, worker: "w", lease: 60)
            #expect(claimed.map(\.id) == [ids[1]])
            #expect(try await queue.complete(claimed[0]))
            #expect(try await queue.discard(ids[1]) == false, "a completed job is not discarded")
            #expect(try await queue.discard("j_unknown") == false)
            let discarded = try await queue.list(state: .discarded, kind: "test.work", page: try PageRequest(limit: 10))
            #expect(discarded.items.map(\.id) == [ids[0]])
            #expect(discarded.nextCursor == nil)
            let counts = try await queue.counts()
            #expect(counts[.discarded] == 1 && counts[.completed] == 1 && counts[.available] == 0)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func listingPagesNewestFirstWithACursor(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            var ids: [String] = []
            for n in 0..<5 { ids += try await queue.enqueue([Self.job(n)]) }
            let first = try await queue.list(state: .available, kind: nil, page: try PageRequest(limit: 2))
            #expect(first.items.map(\.id) == [ids[4], ids[3]])
            let cursor = try #require(first.nextCursor)
            let rest = try await queue.list(state: .available, kind: nil, page: try PageRequest(limit: 10, cursor: cursor))
            #expect(rest.items.map(\.id) == [ids[2], ids[1], ids[0]])
            #expect(rest.nextCursor == nil)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func concurrentClaimersNeverShareAnAttemptAndTogetherClaimEveryJobOnce(engine: DatabaseEngine) async throws {
        try await Self.withQueue(engine) { queue, _ in
            let total = 200
            let ids = try await queue.enqueue((0..<total).map { Self.job($0) })
            #expect(ids.count == total)
            let attempts = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let claimed = try await queue.claim(kinds: ["test.work"], limit: 5, worker: "w\(worker)", lease: 600)
                            if claimed.isEmpty { return mine }
                            for job in claimed {
                                mine.append("\(job.id)#\(job.attempt)")
                                #expect(try await queue.complete(job))
                            }
                        }
                    }
                }
                var all: [String] = []
                for try await mine in group { all += mine }
                return all
            }
            #expect(attempts.count == total)
            #expect(Set(attempts).count == total, "an attempt was claimed twice")
            #expect(Set(attempts.map { String($0.split(separator: "#")[0]) }) == Set(ids))
            #expect(try await queue.counts()[.completed] == total)
        }
    }
}
