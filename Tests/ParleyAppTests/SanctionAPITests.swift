import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Moderators' sanctions through the real router: a mute limited to one conversation, suspensions that stop
/// a user's tokens at once and end when lifted, and the notice the sanctioned user finds in their inbox.
@Suite struct SanctionAPITests {
    func send(_ client: some TestClientProtocol, _ token: String, _ conversation: String, _ text: String) async throws -> JSONResponse {
        try await client.json(.post, "/v1/conversations/\(conversation)/messages", bearer: token,
                              body: ["client_msg_id": .string(UUID().uuidString), "kind": "text", "body": ["text": .string(text)]])
    }

    func group(_ client: some TestClientProtocol, _ token: String, name: String, members: [String]) async throws -> String {
        let created = try await client.json(.post, "/v1/conversations", bearer: token,
                                            body: ["type": "group", "name": .string(name), "members": .array(members.map { .string($0) })])
        return try #require(created.body["id"]?.stringValue, "\(created.body)")
    }

    @Test(arguments: TestDatabases.engines)
    func aMuteCanHoldInOneConversationOnly(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let moderator = try await app.userToken("mod", roles: ["user", "moderator"], client: client)
            let noisy = try await group(client, alice, name: "noisy", members: ["bob"])
            let quiet = try await group(client, alice, name: "quiet", members: ["bob"])

            let muted = try await client.json(.post, "/v1/moderation/sanctions", bearer: moderator, body: [
                "user_id": "bob", "kind": "mute", "reason": "spamming the noisy group", "duration_seconds": 3600,
                "conversation_id": .string(noisy),
            ])
            #expect(muted.status == .created)
            #expect(muted.body["conversation_id"] == .string(noisy))

            let refused = try await send(client, bob, noisy, "one more")
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "moderation.muted")
            #expect(refused.body["error"]?["details"]?["conversation_id"] == .string(noisy))
            #expect(try await send(client, bob, quiet, "hello here").status == .created)
            // Reading still works everywhere.
            #expect(try await client.json(.get, "/v1/conversations/\(noisy)/messages", bearer: bob).status == .ok)

            // Only a mute can be scoped.
            let scopedBan = try await client.json(.post, "/v1/moderation/sanctions", bearer: moderator, body: [
                "user_id": "bob", "kind": "ban", "reason": "x", "conversation_id": .string(noisy),
            ])
            #expect(scopedBan.errorCode == "request.invalid_field")

            let sanctionID = try #require(muted.body["id"]?.stringValue)
            _ = try await client.json(.post, "/v1/moderation/sanctions/\(sanctionID)/lift", bearer: moderator, body: ["reason": "calmed down"])
            #expect(try await send(client, bob, noisy, "back again").status == .created)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aSuspendedUsersTokensStopWorkingUntilTheSuspensionIsLifted(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let bob = try await app.userToken("bob", client: client)
            let moderator = try await app.userToken("mod", roles: ["user", "moderator"], client: client)
            #expect(try await client.json(.get, "/v1/conversations", bearer: bob).status == .ok)

            let suspended = try await client.json(.post, "/v1/moderation/sanctions", bearer: moderator, body: [
                "user_id": "bob", "kind": "suspend", "reason": "harassment", "duration_seconds": 86_400,
            ])
            #expect(suspended.status == .created)
            let refused = try await client.json(.get, "/v1/conversations", bearer: bob)
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "moderation.suspended")
            // A new token does not help either.
            let fresh = try await app.userToken("bob", client: client)
            #expect(try await client.json(.get, "/v1/conversations", bearer: fresh).errorCode == "moderation.suspended")

            let id = try #require(suspended.body["id"]?.stringValue)
            _ = try await client.json(.post, "/v1/moderation/sanctions/\(id)/lift", bearer: moderator, body: ["reason": "appeal granted"])
            #expect(try await client.json(.get, "/v1/conversations", bearer: bob).status == .ok)

            // A mute does not lock anyone out.
            _ = try await client.json(.post, "/v1/moderation/sanctions", bearer: moderator, body: [
                "user_id": "bob", "kind": "mute", "reason": "cool off", "duration_seconds": 600,
            ])
            #expect(try await client.json(.get, "/v1/conversations", bearer: bob).status == .ok)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aSanctionedUserFindsAMandatoryNoticeInTheirInboxExactlyOnce(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let bob = try await app.userToken("bob", client: client)
            let moderator = try await app.userToken("mod", roles: ["user", "moderator"], client: client)
            // Bob turned in-app account notices off: the category is mandatory, so it does not matter.
            _ = try await client.json(.put, "/v1/me/notification-preferences", bearer: bob,
                                      body: ["channels": ["general": ["in_app": false]]])
            _ = try await client.json(.post, "/v1/moderation/sanctions", bearer: moderator, body: [
                "user_id": "bob", "kind": "mute", "reason": "flooding the lobby", "duration_seconds": 3600,
            ])
            let services = app.services
            try await app.runConsumer("moderation.notices")
            // Replaying the same events (a restarted consumer) must not notify twice.
            try await services.database.transaction { sql in
                try await services.events.resetCursor(of: "moderation.notices", at: services.clock.now(), on: sql)
            }
            try await app.runConsumer("moderation.notices")
            try await app.drainJobs()
            try await app.drainJobs()

            let inbox = try await client.json(.get, "/v1/me/notifications", bearer: bob)
            let entries = inbox.body["items"]?.arrayValues ?? []
            #expect(entries.count == 1)
            #expect(entries.first?["category"] == "account")
            #expect(entries.first?["title"] == "You have been muted")
            let body = entries.first?["body"]?.stringValue ?? ""
            #expect(body.contains("flooding the lobby"))
            #expect(body.contains("until 20"))
        }
    }
}
