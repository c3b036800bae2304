import Foundation
import Moderation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// On PostgreSQL every node counts against the same arrival times, so a limit holds for the cluster however a
/// client's requests are spread. Two limiters on one database stand for two nodes; time moves by hand.
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct SharedRateLimitTests {
    let alice = UserID(trusted: "alice")
    let bob = UserID(trusted: "bob")

    func withTwoNodes(_ rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]],
                      _ body: @Sendable (GCRARateLimiter, GCRARateLimiter, ManualWallClock, Database) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: [ModerationService.migrations]) { database in
            let clock = ManualWallClock()
            let policy = RateLimitPolicy(rules: rules)
            let first = GCRARateLimiter(policy: policy, clock: clock, sharedIn: database, logger: TestDatabases.logger)
            let second = GCRARateLimiter(policy: policy, clock: clock, sharedIn: database, logger: TestDatabases.logger)
            try await body(first, second, clock, database)
        }
    }

    /// Whether the request passed; anything but a rate-limit refusal is a failure of the test.
    func passes(_ limiter: GCRARateLimiter, _ action: RateLimitedAction, _ keys: RateLimitKeys) async -> Bool {
        do {
            try await limiter.check(action, keys: keys)
            return true
        } catch let error as ParleyError where error.kind == .rateLimited {
            return false
        } catch {
            Issue.record("unexpected error: \(error)")
            return false
        }
    }

    @Test func aLimitHoldsAcrossNodes() async throws {
        try await withTwoNodes([.report: [.user: RateLimit(count: 5, per: 3600)]]) { first, second, _, _ in
            let keys = RateLimitKeys(user: alice)
            for _ in 0..<3 { #expect(await passes(first, .report, keys)) }
            for _ in 0..<2 { #expect(await passes(second, .report, keys)) }
            // Each node saw fewer than five; together they saw five.
            #expect(!(await passes(first, .report, keys)))
            do {
                try await second.check(.report, keys: keys)
                Issue.record("the sixth report passed on the second node")
            } catch let error as ParleyError {
                #expect(error.code == "moderation.rate_limited")
                #expect(error.retryAfter == 720)
                #expect(error.details["key"] == "user")
            }
            // Another user has their own allowance.
            #expect(await passes(second, .report, RateLimitKeys(user: bob)))
        }
    }

    @Test func theSharedAllowanceRefillsAtTheSustainedRate() async throws {
        try await withTwoNodes([.sendMessage: [.user: RateLimit(count: 2, per: 60)]]) { first, second, clock, _ in
            let keys = RateLimitKeys(user: alice)
            #expect(await passes(first, .sendMessage, keys))
            #expect(await passes(second, .sendMessage, keys))
            #expect(!(await passes(second, .sendMessage, keys)))
            clock.advance(by: 30)  // one emission interval
            #expect(await passes(first, .sendMessage, keys))
            #expect(!(await passes(second, .sendMessage, keys)))
        }
    }

    @Test func aRefusalOnOneKeyConsumesNothingOnAnyKey() async throws {
        let rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]] = [
            .sendMessage: [.user: RateLimit(count: 2, per: 60), .conversation: RateLimit(count: 3, per: 60)],
        ]
        try await withTwoNodes(rules) { first, second, _, _ in
            #expect(await passes(first, .sendMessage, RateLimitKeys(user: alice, conversation: "c1")))
            #expect(await passes(second, .sendMessage, RateLimitKeys(user: alice, conversation: "c1")))
            // Alice is out of allowance: refused, and the conversation's third slot stays free.
            #expect(!(await passes(first, .sendMessage, RateLimitKeys(user: alice, conversation: "c1"))))
            #expect(!(await passes(second, .sendMessage, RateLimitKeys(user: alice, conversation: "c1"))))
            #expect(await passes(second, .sendMessage, RateLimitKeys(user: bob, conversation: "c1")))
            #expect(!(await passes(first, .sendMessage, RateLimitKeys(user: bob, conversation: "c1"))))
        }
    }

    @Test func concurrentRequestsOnTwoNodesAdmitExactlyTheBurst() async throws {
        try await withTwoNodes([.upload: [.user: RateLimit(count: 10, per: 3600)]]) { first, second, _, _ in
            let keys = RateLimitKeys(user: alice)
            let admitted = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    group.addTask { await passes(index % 2 == 0 ? first : second, .upload, keys) }
                }
                var admitted = 0
                for await passed in group where passed { admitted += 1 }
                return admitted
            }
            #expect(admitted == 10)
        }
    }

    /// Which requests of `batch` a limiter refuses, and by which key ("" where it passes).
    func refusals(_ limiter: GCRARateLimiter, _ action: RateLimitedAction, _ batch: [RateLimitKeys]) async -> [String] {
        await limiter.checkEach(action, keys: batch).map { refusal in
            guard let refusal else { return "" }
            guard let error = refusal as? ParleyError, error.kind == .rateLimited else {
                Issue.record("unexpected error: \(refusal)")
                return "?"
            }
            return error.details["key"]?.stringValue ?? "?"
        }
    }

    @Test func aBatchIsAnsweredAsItsRequestsOneAfterAnotherWouldBe() async throws {
        let rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]] = [
            .sendMessage: [.user: RateLimit(count: 3, per: 60), .conversation: RateLimit(count: 2, per: 60)],
        ]
        let batch = ["c1", "c1", "c1", "c2", "c2", "c1"].map { RateLimitKeys(user: alice, conversation: $0) }
        // The third to c1 finds the conversation full and uses nothing, so the first to c2 still fits alice's three.
        let expected = ["", "", "conversation", "", "user", "conversation"]
        // A limiter counting alone, one request at a time: the reference.
        let alone = GCRARateLimiter(policy: RateLimitPolicy(rules: rules), clock: ManualWallClock())
        var oneByOne: [String] = []
        for keys in batch { oneByOne += await refusals(alone, .sendMessage, [keys]) }
        #expect(oneByOne == expected)
        try await withTwoNodes(rules) { first, second, _, _ in
            #expect(await refusals(first, .sendMessage, batch) == expected)
            // What the batch used is used on the other node too: alice is out, c2 has one place left for bob.
            #expect(!(await passes(second, .sendMessage, RateLimitKeys(user: alice, conversation: "c3"))))
            #expect(await passes(second, .sendMessage, RateLimitKeys(user: bob, conversation: "c2")))
            #expect(!(await passes(second, .sendMessage, RateLimitKeys(user: bob, conversation: "c2"))))
        }
    }

    @Test func concurrentBatchesOnTwoNodesAdmitExactlyTheBurstWithoutDeadlocks() async throws {
        // Every batch needs alice's key and five conversation keys, each batch in another order: rows are locked in key
        // order, so no two batches wait for each other (a deadlock would fail the round trip, and the node would then
        // count alone and admit more than the burst).
        let rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]] = [
            .sendMessage: [.user: RateLimit(count: 12, per: 3600), .conversation: RateLimit(count: 1000, per: 60)],
        ]
        try await withTwoNodes(rules) { first, second, _, _ in
            let admitted = await withTaskGroup(of: Int.self) { group in
                for index in 0..<16 {
                    let conversations = (0..<5).map { "c\(($0 * (index + 1)) % 5)" }
                    let batch = conversations.map { RateLimitKeys(user: alice, conversation: $0) }
                    group.addTask { await refusals(index % 2 == 0 ? first : second, .sendMessage, batch).filter(\.isEmpty).count }
                }
                return await group.reduce(0, +)
            }
            #expect(admitted == 12)
        }
    }

    @Test func keysWithAFullAllowanceAreDeletedByPruning() async throws {
        try await withTwoNodes([.report: [.user: RateLimit(count: 5, per: 3600)]]) { first, second, clock, database in
            #expect(await passes(first, .report, RateLimitKeys(user: alice)))
            #expect(await passes(second, .report, RateLimitKeys(user: bob)))
            #expect(try await first.pruneSharedCells() == 0)  // both still owe part of their allowance
            clock.advance(by: 721)
            #expect(try await first.pruneSharedCells() == 2)
            let left = try await database.sql.raw("SELECT COUNT(*) AS n FROM moderation_rate_cells").first()
            #expect(try left?.decode(column: "n", as: Int.self) == 0)
            // A pruned key counts from a full allowance again, as an absent one does.
            for _ in 0..<5 { #expect(await passes(second, .report, RateLimitKeys(user: alice))) }
            #expect(!(await passes(first, .report, RateLimitKeys(user: alice))))
        }
    }

    @Test func whenTheSharedCountFailsThisNodesCountDecides() async throws {
        try await withTwoNodes([.report: [.user: RateLimit(count: 3, per: 3600)]]) { first, _, _, database in
            try await database.sql.raw(
                "DROP FUNCTION moderation_rate_admit_each(BIGINT[], TEXT[], DOUBLE PRECISION[], DOUBLE PRECISION[], DOUBLE PRECISION)"
            ).run()
            let keys = RateLimitKeys(user: alice)
            for _ in 0..<3 { #expect(await passes(first, .report, keys)) }
            #expect(!(await passes(first, .report, keys)))
        }
    }
}
