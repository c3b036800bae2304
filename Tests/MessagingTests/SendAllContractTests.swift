import Events
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

    /// Runs of drafts to one conversation are stored with multi-row statements: every member's feed must still
    /// get one entry per message at consecutive positions, in send order, and the log one event per message.
    @Test(arguments: TestDatabases.engines)
    func runsToOneConversationGiveEveryMemberConsecutiveFeedEntriesInOrder(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (alice, bob, carol) = (people[0], people[1], people[2])
            let team = try await fx.group(alice, [bob, carol])
            let (direct, _) = try await fx.service.openDirect(by: .user(alice), user: alice, with: bob)
            let bobsToken = try await fx.service.currentToken(for: bob)
            let carolsToken = try await fx.service.currentToken(for: carol)
            let events = EventLog(database: fx.database, ids: SortableIDGenerator())
            let headBefore = try await events.headPosition()
            // Two runs in the team, one in the direct conversation between them, and a refusal inside the first run.
            let drafts = [
                try draft("t1", in: team.id, clientMsgID: "1"), try draft("t2", in: team.id, clientMsgID: "2"),
                try draft("dangling", in: team.id, clientMsgID: "x", replyTo: "m_missing"),
                try draft("t3", in: team.id, clientMsgID: "3"),
                try draft("d1", in: direct.id, clientMsgID: "4"),
                try draft("t4", in: team.id, clientMsgID: "5"), try draft("t5", in: team.id, clientMsgID: "2"),
            ]
            let outcomes = await fx.service.sendAll(drafts, by: .user(alice))
            let seqs = outcomes.map { try? $0.get().seq }
            let teamSeqs = [seqs[0], seqs[1], seqs[3], seqs[5]].compactMap { $0 }
            #expect(teamSeqs.count == 4 && teamSeqs == Array(teamSeqs[0]...teamSeqs[0] + 3))
            #expect(seqs[2] == nil, "the dangling reply is refused")
            // "t5" reuses the client id of "t2" in the same batch: t2's receipt.
            #expect(try outcomes[6].get().duplicate && (try outcomes[6].get().messageID) == (try outcomes[1].get().messageID))

            guard case .delta(let bobs, _) = try await fx.service.resume(bob, from: bobsToken),
                  case .delta(let carols, _) = try await fx.service.resume(carol, from: carolsToken) else {
                Issue.record("a resume asked for a resync")
                return
            }
            let bobTexts = bobs.compactMap { $0.item?.body["text"]?.stringValue }
            #expect(bobTexts == ["t1", "t2", "t3", "d1", "t4"])
            #expect(carols.compactMap { $0.item?.body["text"]?.stringValue } == ["t1", "t2", "t3", "t4"])
            for feed in [bobs, carols] {
                let positions = feed.map(\.userSeq)
                #expect(positions == Array(positions[0]...positions[0] + Int64(positions.count - 1)), "consecutive feed positions")
                #expect(feed.allSatisfy { $0.item?.seq == $0.seq })
            }
            let logged = try await events.read(after: headBefore, limit: 100, types: ["message.created"])
            #expect(logged.count == 5)
            #expect(logged.compactMap { $0.payload["seq"]?.intValue }.map(Int64.init) == [seqs[0], seqs[1], seqs[3], seqs[4], seqs[5]].compactMap { $0 })
            #expect(try await fx.unread(team.id, for: carol) == 4)
            #expect(try await fx.unread(team.id, for: alice) == 0, "the sender has read their own messages")
        }
    }
}

/// On PostgreSQL, batches to the same conversations in other orders must not deadlock (each would wait for the
/// other's conversation row until the server's deadlock check, a second later, failed one of them).
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct SendAllLockOrderTests {
    @Test func batchesToTheSameConversationsInOtherOrdersNeverDeadlock() async throws {
        try await MessagingFixture.run(.postgres) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let first = try await fx.group(people[0], [people[1], people[2]])
            let second = try await fx.group(people[0], [people[1], people[2]])
            func batch(_ conversations: [String], round: Int, sender: Int) throws -> [MessageDraft] {
                try conversations.flatMap { conversation in
                    try (0..<3).map { index in
                        try MessageDraft(conversationID: conversation, clientMsgID: "r\(round)-s\(sender)-\(conversation)-\(index)", kind: .text,
                                         body: ["text": .string("round \(round)")])
                    }
                }
            }
            for round in 0..<15 {
                let alice = try batch([first.id, second.id], round: round, sender: 0)
                let bob = try batch([second.id, first.id], round: round, sender: 1)
                async let aliceOutcomes = fx.service.sendAll(alice, by: .user(people[0]))
                async let bobOutcomes = fx.service.sendAll(bob, by: .user(people[1]))
                let outcomes = await aliceOutcomes + bobOutcomes
                #expect(outcomes.allSatisfy { (try? $0.get()) != nil })
            }
            #expect(fx.service.sendBatchFallbacks == 0)
            #expect(try await fx.allItems(first.id, for: people[2]).filter(\.kind.isMessage).count == 15 * 6)
        }
    }
}
