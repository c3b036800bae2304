import Foundation
import Moderation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// On PostgreSQL every node counts a sender's messages in the same windows, so flood, duplicate, campaign and
/// mention checks hold however the sender's connections are spread. Two detectors on one database stand for two
/// nodes; time moves by hand.
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct SharedFloodDetectionTests {
    func withTwoNodes(_ configure: @escaping @Sendable (inout FloodSettings) -> Void,
                      _ body: @Sendable (FloodDetector, FloodDetector, ManualWallClock, Database) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: [ModerationService.migrations]) { database in
            var settings = FloodSettings()
            configure(&settings)
            let clock = ManualWallClock()
            let first = FloodDetector(settings: settings, clock: clock, sharedIn: database, logger: TestDatabases.logger)
            let second = FloodDetector(settings: settings, clock: clock, sharedIn: database, logger: TestDatabases.logger)
            try await body(first, second, clock, database)
        }
    }

    func marks(_ database: Database) async throws -> Int {
        try await database.sql.raw("SELECT COUNT(*) AS n FROM moderation_flood_marks").first()?.decode(column: "n", as: Int.self) ?? -1
    }

    @Test func theWindowsCountTheMessagesOfEveryNode() async throws {
        try await withTwoNodes({ $0.conversationLimit = 4; $0.conversationWindow = 10; $0.senderLimit = 6 }) { first, second, clock, _ in
            for index in 0..<4 {
                let node = index % 2 == 0 ? first : second
                #expect(await node.check(sender: "u", conversation: "c1", text: "message \(index)", mentions: 0) == .clean)
            }
            // Each node saw two; together they saw four.
            #expect(await first.check(sender: "u", conversation: "c1", text: "message 4", mentions: 0) == .flood(scope: "conversation"))
            #expect(await second.check(sender: "u", conversation: "c2", text: "elsewhere", mentions: 0) == .clean)
            #expect(await second.check(sender: "u", conversation: "c3", text: "and here", mentions: 0) == .flood(scope: "sender"))
            #expect(await first.check(sender: "v", conversation: "c1", text: "someone else", mentions: 0) == .clean)
            clock.advance(by: 61)
            #expect(await second.check(sender: "u", conversation: "c1", text: "message 5", mentions: 0) == .clean)
        }
    }

    @Test func aSenderKeepsFloodingLongPastTheLimitAndEveryMessageIsStillJudged() async throws {
        try await withTwoNodes({ $0.senderLimit = 5; $0.conversationLimit = 1000 }) { first, second, clock, database in
            var findings: [FloodFinding] = []
            for index in 0..<60 {
                clock.advance(by: 0.1)
                findings.append(await (index % 2 == 0 ? first : second).check(sender: "u", conversation: "c\(index % 4)",
                                                                              text: "message number \(index)", mentions: 0))
            }
            #expect(findings.prefix(5).allSatisfy { $0 == .clean })
            #expect(findings.dropFirst(5).allSatisfy { $0 == .flood(scope: "sender") })
            // Refused messages count too (as on one node): all 60 are in the window.
            let stored = try await marks(database)
            #expect(stored == 60)
            clock.advance(by: 61)
            #expect(await first.check(sender: "u", conversation: "c1", text: "calm again", mentions: 0) == .clean)
        }
    }

    @Test func aDuplicateSentThroughAnotherNodeIsCaughtUntilTheTTL() async throws {
        try await withTwoNodes({ $0.duplicateTTL = 30 }) { first, second, clock, _ in
            #expect(await first.check(sender: "u", conversation: "c1", text: "Buy cheap watches", mentions: 0) == .clean)
            #expect(await second.check(sender: "u", conversation: "c2", text: "buy  CHEAP watches!!!", mentions: 0) == .duplicate)
            #expect(await second.check(sender: "v", conversation: "c1", text: "Buy cheap watches", mentions: 0) == .clean)
            #expect(await first.check(sender: "u", conversation: "c1", text: "ok", mentions: 0) == .clean)
            #expect(await second.check(sender: "u", conversation: "c1", text: "ok", mentions: 0) == .clean)
            clock.advance(by: 31)
            #expect(await second.check(sender: "u", conversation: "c1", text: "Buy cheap watches", mentions: 0) == .clean)
        }
    }

    @Test func nearDuplicatesSpreadOverNodesAndConversationsAreACampaign() async throws {
        try await withTwoNodes({ $0.campaignConversations = 4; $0.duplicateTTL = 0.001 }) { first, second, clock, _ in
            let variants = [
                "Great offer: visit cheap-pills dot example for 90% off today",
                "Great offer!! visit cheap-pills dot example for 90% off today!",
                "great offer: visit cheap pills dot example for 90% off today :)",
                "Great offer: visit cheap-pills dot example for 90 % off today",
            ]
            for (index, text) in variants.prefix(3).enumerated() {
                clock.advance(by: 1)
                #expect(await (index % 2 == 0 ? first : second).check(sender: "spammer", conversation: "c\(index)", text: text, mentions: 0) == .clean)
            }
            clock.advance(by: 1)
            #expect(await second.check(sender: "spammer", conversation: "c3", text: variants[3], mentions: 0) == .campaign(conversations: 4))
            #expect(await first.check(sender: "spammer", conversation: "c4", text: "see you at the meeting tomorrow morning", mentions: 0) == .clean)
        }
    }

    @Test func mentionsAddUpAcrossNodes() async throws {
        try await withTwoNodes({ $0.mentionsPerMessage = 5; $0.mentionLimit = 8; $0.mentionWindow = 60 }) { first, second, clock, _ in
            #expect(await first.check(sender: "u", conversation: "c", text: "hi all", mentions: 6) == .mentionFlood(count: 6, scope: "message"))
            clock.advance(by: 61)
            #expect(await first.check(sender: "u", conversation: "c", text: "one", mentions: 4) == .clean)
            #expect(await second.check(sender: "u", conversation: "c", text: "two", mentions: 4) == .clean)
            #expect(await second.check(sender: "u", conversation: "c", text: "three", mentions: 1) == .mentionFlood(count: 9, scope: "window"))
        }
    }

    @Test func concurrentMessagesOfOneSenderOnTwoNodesAreEachCountedOnce() async throws {
        try await withTwoNodes({ $0.senderLimit = 10; $0.conversationLimit = 1000 }) { first, second, _, _ in
            let clean = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        await (index % 2 == 0 ? first : second).check(sender: "u", conversation: "c\(index % 3)", text: "text \(index)",
                                                                      mentions: 0) == .clean
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(clean == 10)
        }
    }

    @Test func marksOlderThanEveryWindowAreDeleted() async throws {
        try await withTwoNodes({ $0.campaignWindow = 600 }) { first, second, clock, database in
            #expect(await first.check(sender: "u", conversation: "c", text: "first message here", mentions: 0) == .clean)
            #expect(await second.check(sender: "quiet", conversation: "c", text: "only once", mentions: 0) == .clean)
            let pruned = try await first.pruneShared()
            #expect(pruned == 0)
            clock.advance(by: 601)
            // The sender's own old marks go when they send again; a quiet sender's with the hourly prune.
            #expect(await second.check(sender: "u", conversation: "c", text: "first message here", mentions: 0) == .clean)
            #expect(try await marks(database) == 2)
            #expect(try await first.pruneShared() == 1)
            #expect(try await marks(database) == 1)
        }
    }

    @Test func whenTheSharedMarksFailThisNodesCountDecides() async throws {
        try await withTwoNodes({ $0.senderLimit = 3 }) { first, _, _, database in
            try await database.sql.raw("DROP FUNCTION moderation_flood_inspect").run()
            for index in 0..<3 { #expect(await first.check(sender: "u", conversation: "c\(index)", text: "hello \(index)", mentions: 0) == .clean) }
            #expect(await first.check(sender: "u", conversation: "c9", text: "another", mentions: 0) == .flood(scope: "sender"))
        }
    }
}
