import Foundation
@testable import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// A send's transaction does not look its client id up again: `prepare` did, and the idempotency index refuses a
/// retry that raced its original past `prepare`. The store then runs once more with the lookup and answers the retry
/// with the original's receipt.
@Suite struct RacedRetryTests {
    @Test(arguments: TestDatabases.engines)
    func aRetryThatRacedItsOriginalPastTheChecksGetsTheOriginalsReceipt(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let original = try await fx.text("hi", in: direct.id, from: people[0], clientMsgID: "cm-raced")
            let retry = try MessageDraft(conversationID: direct.id, clientMsgID: "cm-raced", kind: .text, body: ["text": "hi"])
            // Without the lookup the index refuses it, and nothing of it is kept.
            await #expect(throws: (any Error).self) {
                try await fx.database.transaction { sql in
                    _ = try await fx.service.storeRun([retry], by: .user(people[0]), lookUpRetries: false, on: sql)
                }
            }
            // Past `prepare` (as if the original committed just after it looked): the original's receipt, one item.
            let receipt = try await fx.service.store(retry, by: .user(people[0]))
            #expect(receipt.duplicate)
            #expect(receipt.messageID == original.messageID && receipt.seq == original.seq)
            let batch = await fx.service.sendAll([retry], by: .user(people[0]))
            #expect(try batch.first?.get().duplicate == true)
            #expect(try batch.first?.get().messageID == original.messageID)
            #expect(try await fx.allItems(direct.id, for: people[1]).filter(\.kind.isMessage).count == 1)
        }
    }
}
