import Events
import Foundation
import Identity
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization
import Testing

/// Messaging with a content policy in its write path (DESIGN §7): what each verdict does to a send or an
/// edit, on every engine.
@Suite struct ContentPolicyTests {
    /// A policy that answers with a closure and records what it was asked.
    final class ScriptedPolicy: ContentPolicy {
        let decide: @Sendable (ContentSubmission) -> ContentVerdict
        let seen = Mutex<[ContentSubmission]>([])

        init(_ decide: @escaping @Sendable (ContentSubmission) -> ContentVerdict) { self.decide = decide }

        var calls: Int { seen.withLock { $0.count } }

        func review(_ submission: ContentSubmission) async throws -> ContentVerdict {
            seen.withLock { $0.append(submission) }
            return decide(submission)
        }
    }

    struct Fixture: Sendable {
        let service: MessagingService
        let base: MessagingFixture
        let alice: UserID
        let bob: UserID
        let conversation: String

        func send(_ text: String, clientMsgID: String = UUID().uuidString, as user: UserID? = nil) async throws -> SendReceipt {
            let draft = try MessageDraft(conversationID: conversation, clientMsgID: clientMsgID, kind: .text, body: ["text": .string(text)])
            return try await service.send(draft, by: .user(user ?? alice))
        }

        func texts() async throws -> [JSONValue] {
            try await base.allItems(conversation, for: bob).filter { $0.kind == .text }.map(\.body)
        }
    }

    /// A group of alice and bob, and a messaging service that runs `policy` (the fixture's own one runs none).
    static func run(_ engine: DatabaseEngine, policy: ScriptedPolicy, _ body: @Sendable (Fixture) async throws -> Void) async throws {
        try await MessagingFixture.run(engine) { base in
            let ids = SortableIDGenerator()
            let service = MessagingService(database: base.database, outbox: EventLog(database: base.database, ids: ids),
                                           users: StoreUserDirectory(users: base.users), clock: base.clock, ids: ids, policy: policy)
            let users = try await base.makeUsers("alice", "bob")
            let group = try await base.group(users[0], [users[1]])
            try await body(Fixture(service: service, base: base, alice: users[0], bob: users[1], conversation: group.id))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRejectedMessageFailsWithThePolicysCodeAndNothingIsStored(engine: DatabaseEngine) async throws {
        let policy = ScriptedPolicy { _ in .reject(code: "moderation.spam", reason: "Looks like spam.") }
        try await Self.run(engine, policy: policy) { f in
            let before = try await f.base.allItems(f.conversation, for: f.bob).count
            do {
                _ = try await f.send("buy now")
                Issue.record("the message was stored")
            } catch let error as ParleyError {
                #expect(error.code == "moderation.spam")
                #expect(error.kind == .unprocessable)
                #expect(error.details["reason"] == "Looks like spam.")
            }
            #expect(try await f.base.allItems(f.conversation, for: f.bob).count == before)
            let submission = try #require(policy.seen.withLock { $0.first })
            #expect(submission.kind == "message")
            #expect(submission.actor == "user:alice")
            #expect(submission.body == ["text": "buy now"])
            #expect(submission.context["conversation_id"] == .string(f.conversation))
            #expect(submission.context["message_kind"] == "text")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aHeldMessageIsNotStored(engine: DatabaseEngine) async throws {
        let policy = ScriptedPolicy { _ in .hold(reason: "A moderator will look at this.", reference: "case_1") }
        try await Self.run(engine, policy: policy) { f in
            await expectError("moderation.held_for_review") { try await f.send("borderline") }
            let texts = try await f.texts()
            #expect(texts.isEmpty)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRewriteStoresTheRewrittenBody(engine: DatabaseEngine) async throws {
        let policy = ScriptedPolicy { submission in
            guard case .string(let text)? = submission.body["text"] else { return .allow }
            return .rewrite(["text": .string(text.replacingOccurrences(of: "darn", with: "****"))])
        }
        try await Self.run(engine, policy: policy) { f in
            let receipt = try await f.send("well darn it")
            #expect(!receipt.duplicate)
            #expect(try await f.texts() == [["text": "well **** it"]])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRewriteIntoAnInvalidBodyIsRefused(engine: DatabaseEngine) async throws {
        for invalid: JSONValue in [["text": ""], ["caption": "no text"], .string("not an object")] {
            let policy = ScriptedPolicy { _ in .rewrite(invalid) }
            try await Self.run(engine, policy: policy) { f in
                await expectError("messaging.invalid_rewrite") { try await f.send("hello") }
                let texts = try await f.texts()
            #expect(texts.isEmpty)
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRetriedClientMessageIDIsAnsweredWithoutAskingThePolicyAgain(engine: DatabaseEngine) async throws {
        let policy = ScriptedPolicy { _ in .rewrite(["text": "rewritten"]) }
        try await Self.run(engine, policy: policy) { f in
            let first = try await f.send("original", clientMsgID: "retry-1")
            let retry = try await f.send("original", clientMsgID: "retry-1")
            #expect(retry.duplicate)
            #expect(retry.messageID == first.messageID)
            #expect(policy.calls == 1)
            #expect(try await f.texts() == [["text": "rewritten"]])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func editsAreReviewedToo(engine: DatabaseEngine) async throws {
        let policy = ScriptedPolicy { submission in
            guard submission.kind == "message_edit" else { return .allow }
            if submission.body["text"] == "forbidden" { return .reject(code: "moderation.blocked_word", reason: "Not that word.") }
            return .rewrite(["text": .string("[checked] " + (submission.body["text"]?.stringValue ?? ""))])
        }
        try await Self.run(engine, policy: policy) { f in
            let sent = try await f.send("first draft")
            let edit = try await f.service.edit(f.conversation, messageID: sent.messageID, body: ["text": "second draft"], by: .user(f.alice))
            #expect(edit.body == ["body": ["text": "[checked] second draft"]])
            #expect(try await f.texts() == [["text": "[checked] second draft"]])
            await expectError("moderation.blocked_word") {
                try await f.service.edit(f.conversation, messageID: sent.messageID, body: ["text": "forbidden"], by: .user(f.alice))
            }
            #expect(try await f.texts() == [["text": "[checked] second draft"]])
            let edits = policy.seen.withLock { $0.filter { $0.kind == "message_edit" } }
            #expect(edits.count == 2)
            #expect(edits.first?.context["message_id"] == .string(sent.messageID))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func thePlatformsOwnMessagesAreNotReviewed(engine: DatabaseEngine) async throws {
        let policy = ScriptedPolicy { _ in .reject(code: "moderation.everything", reason: "No.") }
        try await Self.run(engine, policy: policy) { f in
            let notice = try MessageDraft(conversationID: f.conversation, clientMsgID: "sys-1", kind: .system, body: ["text": "Maintenance at 2am."])
            #expect(try await f.service.send(notice, by: .platform(label: "apikey:ops")).duplicate == false)
            let text = try MessageDraft(conversationID: f.conversation, clientMsgID: "sys-2", kind: .text, body: ["text": "Welcome!"])
            #expect(try await f.service.send(text, by: .platform(label: "apikey:ops")).duplicate == false)
            #expect(policy.calls == 0)
            await expectError("moderation.everything") { try await f.send("hi") }
            #expect(policy.calls == 1)
        }
    }
}
