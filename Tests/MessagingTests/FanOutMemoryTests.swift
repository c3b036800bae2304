import Foundation
@testable import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The live fan-out gets messages this process just stored from memory (`RecentMessages`) instead of reading
/// them back: what it gets must be exactly what the database holds, and only for the message the log names.
@Suite struct FanOutMemoryTests {
    struct Rollback: Error {}

    @Test(arguments: TestDatabases.engines)
    func aJustStoredMessageComesFromMemoryEqualToItsStoredRow(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            fx.service.fanOutStarted()
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let team = try await fx.group(people[0], [people[1], people[2]])
            // Bodies whose JSON could change on a round trip through the database: numbers, escapes, nesting.
            let body: JSONValue = [
                "text": "héllo \"quoted\" \\ 你好 \u{1F600}\n", "n": .int(-42), "x": .double(1.5), "big": .double(1e20),
                "nested": ["list": [.int(1), .null, .bool(true), "a"]],
            ]
            let drafts = try (1...2).map { n in
                try MessageDraft(conversationID: team.id, clientMsgID: "c\(n)", kind: .custom, body: body, mentions: [people[1].rawValue])
            }
            let receipts = try await fx.service.sendAll(drafts, by: .user(people[0])).map { try $0.get() }
            let positions = receipts.map { ItemPosition(conversationID: team.id, seq: $0.seq) }

            // Without ids the fan-out reads the database, and leaves the memory alone.
            let fromDatabase = try await fx.service.itemsForFanOut([positions[0]])[positions[0]]
            let fromMemory = try await fx.service.itemsForFanOut([positions[0]], ids: [positions[0]: receipts[0].messageID])[positions[0]]
            #expect(fromDatabase != nil && fromMemory != nil)
            #expect(fromMemory?.item == fromDatabase?.item)
            let recipients = { (entry: ItemForFanOut?) in (entry?.recipients ?? []).map { "\($0.user.rawValue)@\($0.userSeq)" }.sorted() }
            #expect(recipients(fromMemory) == recipients(fromDatabase))
            #expect(recipients(fromMemory).count == 3)

            // Proof that memory answered: the stored row changes behind its back, and memory still has the sent body,
            // once; the next ask reads the row.
            try await fx.database.sql.raw("""
                UPDATE messaging_items SET body = '{"text":"changed"}' WHERE conversation_id = \(bind: team.id) AND seq = \(bind: receipts[1].seq)
                """).run()
            let wanted = [positions[1]: receipts[1].messageID]
            #expect(try await fx.service.itemsForFanOut([positions[1]], ids: wanted)[positions[1]]?.item.body == body)
            #expect(try await fx.service.itemsForFanOut([positions[1]], ids: wanted)[positions[1]]?.item.body == ["text": "changed"])
        }
    }

    /// A send whose transaction rolled back left its message in memory; the position is then taken by an item that
    /// never passes through memory (a membership change). The fan-out, asking with the id the log names, gets that.
    @Test(arguments: TestDatabases.engines)
    func aRolledBackSendIsNeverServedForTheItemThatTookItsPosition(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            fx.service.fanOutStarted()
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let team = try await fx.group(people[0], [people[1]])
            let draft = try MessageDraft(conversationID: team.id, clientMsgID: "lost", kind: .text, body: ["text": "never committed"])
            await #expect(throws: Rollback.self) {
                try await fx.database.transaction { sql in
                    _ = try await fx.service.storeRun([draft], by: .user(people[0]), lookUpRetries: true, on: sql)
                    throw Rollback()
                }
            }
            let added = try await fx.service.addMembers(team.id, users: [people[2]], by: .user(people[0]))
            let position = ItemPosition(conversationID: team.id, seq: added.seq)
            let fannedOut = try await fx.service.itemsForFanOut([position], ids: [position: added.id])[position]
            #expect(fannedOut?.item.id == added.id)
            #expect(fannedOut?.item.kind == added.kind)
            #expect(try await fx.allItems(team.id, for: people[0]).allSatisfy { $0.body["text"]?.stringValue != "never committed" })
        }
    }

    /// Without a live fan-out in the process nothing is kept: the fan-out's ask reads the database.
    @Test func withoutAFanOutNothingIsKept() async throws {
        try await MessagingFixture.run(.sqlite) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let sent = try await fx.text("kept?", in: direct.id, from: people[0])
            try await fx.database.sql.raw("""
                UPDATE messaging_items SET body = '{"text":"from the database"}' WHERE conversation_id = \(bind: direct.id) AND seq = \(bind: sent.seq)
                """).run()
            let position = ItemPosition(conversationID: direct.id, seq: sent.seq)
            let fannedOut = try await fx.service.itemsForFanOut([position], ids: [position: sent.messageID])[position]
            #expect(fannedOut?.item.body == ["text": "from the database"])
        }
    }
}
