import Foundation
import Identity
import Messaging
import Moderation
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// On PostgreSQL a member's send asks whether the author has any sanction in force inside its read of the
/// conversation (`ModerationPolicy` as `ReviewReadsInSQL`): no statement, round trip or pooled connection of its own
/// when there is none, which is almost always; when there is one, the sanctions are read in full and decide as before.
/// SQLite reads them on their own, as before (a few microseconds on the caller's thread).
@Suite struct SanctionsReadWithTheSendTests {
    @Test(arguments: TestDatabases.engines)
    func theSendsReadAsksForSanctionsAndAMuteStillRefuses(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, _ in
            let services = app.services
            let (people, direct) = try await app.aliceAndBobInADirectConversation()
            func draft(_ text: String) throws -> MessageDraft { try TestApp.textDraft(text, to: direct) }

            let statements = try await services.database.statementWork {
                _ = try await services.messaging.send(try draft("hello"), by: .user(people[0]))
            }
            let sanctionReads = statements.filter { $0.sql.contains("moderation_sanctions") }
            #expect(sanctionReads.count == 1, "\(engine): \(sanctionReads.map(\.sql))")
            #expect(sanctionReads.allSatisfy { $0.sql.contains("messaging_conversations") } == (engine == .postgres),
                    "\(engine): asked with the conversation on PostgreSQL only")

            // A mute in another conversation is in force but does not apply here: the send goes through; one here refuses.
            _ = try await services.moderation.sanction(people[0], kind: .mute, duration: 3600, reason: "elsewhere",
                                                       conversationID: "c_elsewhere", by: "admin:test")
            _ = try await services.messaging.send(try draft("still here"), by: .user(people[0]))
            _ = try await services.moderation.sanction(people[0], kind: .mute, duration: 3600, reason: "here",
                                                       conversationID: direct, by: "admin:test")
            do {
                _ = try await services.messaging.send(try draft("muted"), by: .user(people[0]))
                Issue.record("\(engine): a muted author's message was stored")
            } catch let error as ParleyError {
                #expect(error.code == "moderation.muted")
            }
            // Bob has no sanction: his sends are untouched by Alice's.
            _ = try await services.messaging.send(try draft("bob speaks"), by: .user(people[1]))
        }
    }
}
