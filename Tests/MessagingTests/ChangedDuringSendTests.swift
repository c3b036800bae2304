import Events
import Foundation
@testable import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization
import Testing

/// A send is checked before its write (membership, mutes, the content policy). On PostgreSQL the write is one
/// statement without a lock, valid only while the conversation has not changed since the checks read it; whatever
/// changes in between (here: during the content policy's review), the send must end as if it had been checked under
/// the conversation's lock, on every engine.
@Suite struct ChangedDuringSendTests {
    /// A policy that allows everything, after running a change the test sets (once).
    final class InterferingPolicy: ContentPolicy {
        let change = Mutex<(@Sendable () async throws -> Void)?>(nil)

        func review(_ submission: ContentSubmission) async throws -> ContentVerdict {
            if let change = self.change.withLock({ current -> (@Sendable () async throws -> Void)? in
                defer { current = nil }
                return current
            }) {
                try await change()
            }
            return .allow
        }
    }

    struct Fixture: Sendable {
        let service: MessagingService
        let base: MessagingFixture
        let policy: InterferingPolicy
        let owner: UserID
        let member: UserID
        let group: String

        func send(_ text: String, as user: UserID, clientMsgID: String = UUID().uuidString) async throws -> SendReceipt {
            let draft = try MessageDraft(conversationID: group, clientMsgID: clientMsgID, kind: .text, body: ["text": .string(text)])
            return try await service.send(draft, by: .user(user))
        }

        /// The member's next send reviews with `change` running first.
        func during(_ change: @escaping @Sendable () async throws -> Void) {
            policy.change.withLock { $0 = change }
        }
    }

    static func run(_ engine: DatabaseEngine, _ body: @Sendable (Fixture) async throws -> Void) async throws {
        try await MessagingFixture.run(engine) { base in
            let ids = SortableIDGenerator()
            let policy = InterferingPolicy()
            let service = MessagingService(database: base.database, outbox: EventLog(database: base.database, ids: ids),
                                           users: StoreUserDirectory(users: base.users), clock: base.clock, ids: ids, policy: policy)
            let users = try await base.makeUsers("owner", "member")
            let group = try await base.group(users[0], [users[1]])
            try await body(Fixture(service: service, base: base, policy: policy, owner: users[0], member: users[1], group: group.id))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aMemberMutedWhileTheirMessageIsReviewedIsRefused(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { f in
            f.during { _ = try await f.service.muteMember(f.group, user: f.member, seconds: 600, by: .user(f.owner)) }
            await #expect(throws: ParleyError.self) { try await f.send("sneaked in", as: f.member) }
            let items = try await f.base.allItems(f.group, for: f.owner)
            #expect(!items.contains { $0.kind == .text })
            #expect(items.last?.kind == .memberMuted)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aMemberRemovedWhileTheirMessageIsReviewedIsRefused(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { f in
            f.during { _ = try await f.service.removeMember(f.group, user: f.member, by: .user(f.owner)) }
            do {
                _ = try await f.send("after the door closed", as: f.member)
                Issue.record("a removed member's message was stored")
            } catch let error as ParleyError {
                #expect(error.code == ParleyError.notMember(f.group).code)
            }
            #expect(try await f.base.allItems(f.group, for: f.owner).last?.kind == .memberRemoved)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aGroupDissolvedWhileAMessageIsReviewedTakesNoMore(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { f in
            f.during { _ = try await f.service.dissolve(f.group, by: .user(f.owner)) }
            do {
                _ = try await f.send("too late", as: f.member)
                Issue.record("a message was stored in a dissolved group")
            } catch let error as ParleyError {
                #expect(error.code == ParleyError.dissolved.code)
            }
            #expect(try await f.base.allItems(f.group, for: f.owner).last?.kind == .dissolved)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aMessageStoredWhileAnotherIsReviewedComesFirstAndBothAreKept(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { f in
            let before = try await f.base.allItems(f.group, for: f.owner).last?.seq ?? 0
            f.during { _ = try await f.send("first", as: f.owner) }
            let second = try await f.send("second", as: f.member)
            #expect(second.seq == before + 2)
            let texts = try await f.base.allItems(f.group, for: f.member).filter { $0.kind == .text }
            #expect(texts.map(\.seq) == [before + 1, before + 2])
            #expect(texts.map(\.body) == [["text": "first"], ["text": "second"]])
            #expect(try await f.base.unread(f.group, for: f.owner) == 1)
            #expect(try await f.base.unread(f.group, for: f.member) == 0)
            // PostgreSQL found the conversation changed and stored the second under the lock; SQLite always does.
            #expect(f.service.sendsStoredUnderLock == (engine == .postgres ? 1 : 0))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func anUnchangedConversationStoresWithoutTheLockAndARacedRetryGetsTheOriginal(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { f in
            let first = try await f.send("hello", as: f.member, clientMsgID: "cm-1")
            #expect(f.service.sendsStoredUnderLock == 0)
            // A retry whose original committed after the retry's checks read the conversation: the write finds the
            // conversation as read (no later change) and the idempotency index refuses it; the original's receipt.
            let target = try #require(try await f.service.store.sendTarget(f.group, sender: f.member, lock: false, on: f.base.database.sql))
            let retry = try MessageDraft(conversationID: f.group, clientMsgID: "cm-1", kind: .text, body: ["text": "hello"])
            let receipt = try await f.service.store(retry, by: .user(f.member), unchangedSince: target)
            #expect(receipt.duplicate && receipt.messageID == first.messageID && receipt.seq == first.seq)
            // A stale read writes nothing at all on PostgreSQL.
            _ = try await f.send("moved on", as: f.owner)
            let stale = try await f.service.store.appendMessagesIfUnchanged(
                [try MessageDraft(conversationID: f.group, clientMsgID: "cm-2", kind: .text, body: ["text": "stale"])],
                to: target.conversation, senderID: f.member.rawValue, actor: "user:member", readBy: f.member, at: f.base.clock.now(),
                on: f.base.database.sql
            )
            #expect(stale == nil)
            let texts = try await f.base.allItems(f.group, for: f.owner).filter { $0.kind == .text }
            #expect(texts.map(\.body) == [["text": "hello"], ["text": "moved on"]])
            // The stale write did not move the member's read position either.
            #expect(try await f.base.unread(f.group, for: f.member) == 1)
        }
    }
}
