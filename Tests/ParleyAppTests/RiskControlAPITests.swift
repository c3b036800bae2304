import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Risk control in the write path, end to end through the real router: the sensitive-word filter rewrites,
/// holds and rejects messages; holds reach the log only when approved; the limiter answers 429; blocks stop
/// direct messages; and every action is in the audit log.
@Suite struct RiskControlAPITests {
    func send(_ client: some TestClientProtocol, _ token: String, _ conversation: String, _ id: String, _ text: String) async throws -> JSONResponse {
        try await client.json(.post, "/v1/conversations/\(conversation)/messages", bearer: token,
                              body: ["client_msg_id": .string(id), "kind": "text", "body": ["text": .string(text)]])
    }

    func texts(_ client: some TestClientProtocol, _ token: String, _ conversation: String) async throws -> [String] {
        let history = try await client.json(.get, "/v1/conversations/\(conversation)/messages?limit=50", bearer: token)
        guard case .array(let items)? = history.body["items"] else { return [] }
        return items.filter { $0["kind"] == "text" }.compactMap { $0["body"]?["text"]?.stringValue }
    }

    @Test(arguments: TestDatabases.engines)
    func theFilterRewritesHoldsAndRejectsAndHeldMessagesArriveOnlyWhenApproved(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let words = try await client.json(.put, "/v1/moderation/filter/words", bearer: app.adminKey, body: ["entries": [
                ["word": "darn", "action": "replace", "category": "mild"],
                ["word": "sketchy", "action": "review", "category": "scam"],
                ["word": "forbidden", "action": "reject", "category": "banned"],
                ["word": "傻冒", "action": "replace", "category": "insult"],
            ]])
            #expect(words.status == .ok)
            let tried = try await client.json(.post, "/v1/moderation/filter/test", bearer: app.adminKey, body: ["text": "ＤＡＲＮ it, 傻@冒"])
            #expect(tried.body["verdict"] == "rewrite")
            #expect(tried.body["matches"]?.arrayCount == 2)

            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let moderator = try await app.userToken("mod", roles: ["user", "moderator"], client: client)
            let created = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            let conversation = try #require(created.body["id"]?.stringValue)

            let rewritten = try await send(client, alice, conversation, "m1", "well darn it")
            #expect(rewritten.status == .created)
            let rejected = try await send(client, alice, conversation, "m2", "this is forbidden")
            #expect(rejected.status == .unprocessableContent)
            #expect(rejected.errorCode == "moderation.sensitive_word")
            let held = try await send(client, alice, conversation, "m3", "a sketchy offer")
            #expect(held.errorCode == "moderation.held_for_review")
            let heldID = try #require(held.body["error"]?["details"]?["held_id"]?.stringValue)
            #expect(try await texts(client, bob, conversation) == ["well **** it"])

            let queue = try await client.json(.get, "/v1/moderation/held", bearer: moderator)
            #expect(queue.body["items"]?.arrayCount == 1)
            let approved = try await client.json(.post, "/v1/moderation/held/\(heldID)/approve", bearer: moderator, body: ["reason": "fine"])
            #expect(approved.status == .ok)
            #expect(try await texts(client, bob, conversation) == ["well **** it", "a sketchy offer"])

            // Every automated and human action is in the audit log.
            let automated = try await client.json(.get, "/v1/moderation/audit?actor=system:moderation", bearer: moderator)
            let automatedActions = (automated.body["items"]?.arrayValues ?? []).compactMap { $0["action"]?.stringValue }
            #expect(automatedActions.contains("rewrite"))
            #expect(automatedActions.contains("reject"))
            #expect(automatedActions.contains { $0.contains("hold") })
            let human = try await client.json(.get, "/v1/moderation/audit?actor=user:mod", bearer: moderator)
            #expect((human.body["items"]?.arrayCount ?? 0) >= 1)
            let dictionary = try await client.json(.get, "/v1/moderation/audit?subject=filter:dictionary", bearer: moderator)
            #expect((dictionary.body["items"]?.arrayCount ?? 0) >= 1)
        }
    }

    @Test func theLimiterAnswers429WithRetryAfter() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            _ = try await app.userToken("bob", client: client)
            let override = try await client.json(.put, "/v1/moderation/rate-limits/overrides", bearer: app.adminKey,
                                                 body: ["action": "send_message", "scope": "user", "target": "alice", "count": 2, "period_seconds": 3600])
            #expect(override.status == .ok)
            let created = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            let conversation = try #require(created.body["id"]?.stringValue)
            var statuses: [HTTPResponse.Status] = []
            var last: JSONResponse?
            for index in 0..<4 {
                let response = try await send(client, alice, conversation, "r\(index)", "message \(index)")
                statuses.append(response.status)
                last = response
            }
            #expect(statuses.prefix(2).allSatisfy { $0 == .created })
            #expect(statuses.last == .tooManyRequests)
            #expect(last?.errorCode == "moderation.rate_limited")
            #expect(Int(last?.headers[.retryAfter] ?? "") ?? 0 > 0)
        }
    }

    @Test func aBlockedUserCannotOpenADirectConversation() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            #expect(try await client.json(.put, "/v1/blocks/alice", bearer: bob).status.code < 300)
            let refused = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "moderation.blocked")
            let audit = try await client.json(.get, "/v1/moderation/audit?actor=user:bob", bearer: app.adminKey)
            #expect((audit.body["items"]?.arrayCount ?? 0) >= 1)
        }
    }

    /// The send path reads a block between the members of a direct conversation in the same statement as the
    /// conversation itself (`BlockRelationsInSQL`): a block either way stops both, and lifting it lets both write again.
    @Test(arguments: TestDatabases.engines)
    func aBlockInAnExistingDirectConversationStopsBothSendersUntilLifted(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let created = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            let conversation = try #require(created.body["id"]?.stringValue)
            #expect(try await send(client, alice, conversation, "a1", "before").status == .created)
            #expect(try await client.json(.put, "/v1/blocks/alice", bearer: bob).status.code < 300)
            let fromAlice = try await send(client, alice, conversation, "a2", "while blocked")
            #expect(fromAlice.status == .forbidden)
            #expect(fromAlice.errorCode == "moderation.blocked")
            let fromBob = try await send(client, bob, conversation, "b1", "while blocking")
            #expect(fromBob.errorCode == "moderation.blocked")
            #expect(try await client.json(.delete, "/v1/blocks/alice", bearer: bob).status.code < 300)
            #expect(try await send(client, alice, conversation, "a3", "after").status == .created)
            #expect(try await texts(client, bob, conversation) == ["before", "after"])
        }
    }
}
