import Foundation
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// `sendAll`: several sends of one actor in one transaction give each draft exactly the outcome `send` would
/// have given it alone, in order, and a draft refused inside the transaction leaves nothing behind.
@Suite struct SendAllContractTests {
    func draft(_ text: String, in conversation: String, clientMsgID: String, replyTo: String? = nil) throws -> MessageDraft {
        try MessageDraft(conversationID: conversation, clientMsgID: clientMsgID, kind: .text, body: ["text": .string(text)], replyTo: replyTo)
    }

    @Test(arguments: TestDatabases.engines)
    func eachDraftGetsItsOwnOutcomeInOrderAndRefusedOnesLeaveNothing(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let elsewhere = try await fx.group(people[1], [people[2]])
            let before = try await fx.service.badge(for: people[1])
            let drafts = [
                try draft("one", in: direct.id, clientMsgID: "a"),
                // Not a member: refused before the transaction.
                try draft("intruder", in: elsewhere.id, clientMsgID: "b"),
                // The same client id as the first, in the same batch: the first one's receipt.
                try draft("one again", in: direct.id, clientMsgID: "a"),
                try draft("two", in: direct.id, clientMsgID: "c"),
                // A reply to a message that does not exist: refused inside the transaction by a check, before any write.
                try draft("dangling", in: direct.id, clientMsgID: "d", replyTo: "m_missing"),
                try draft("three", in: direct.id, clientMsgID: "e"),
            ]
            let outcomes = await fx.service.sendAll(drafts, by: .user(people[0]))
            #expect(outcomes.count == drafts.count)
            let first = try outcomes[0].get()
            #expect(!first.duplicate)
            if case .failure(let error as ParleyError) = outcomes[1] {
                #expect(error.code == "messaging.not_member")
            } else {
                Issue.record("a non-member's draft was stored: \(outcomes[1])")
            }
            let retry = try outcomes[2].get()
            #expect(retry.duplicate && retry.messageID == first.messageID && retry.seq == first.seq)
            if case .failure(let error as ParleyError) = outcomes[4] {
                #expect(error.code == "messaging.message_not_found")
            } else {
                Issue.record("the dangling reply was stored: \(outcomes[4])")
            }
            let seqs = try [outcomes[0], outcomes[3], outcomes[5]].map { try $0.get().seq }
            #expect(seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2], "dense and in the drafts' order")
            // Stored: exactly the three accepted messages, in order, with nothing of the refused ones.
            let texts = try await fx.allItems(direct.id, for: people[1]).filter(\.kind.isMessage).map { $0.body["text"]?.stringValue }
            #expect(texts == ["one", "two", "three"])
            #expect(try await fx.allItems(elsewhere.id, for: people[1]).filter(\.kind.isMessage).isEmpty)
            // The recipient's feed and unread count saw three messages, not more.
            #expect(try await fx.service.badge(for: people[1]) == before + 3)
            #expect(try await fx.unread(direct.id, for: people[1]) == 3)
        }
    }
}
