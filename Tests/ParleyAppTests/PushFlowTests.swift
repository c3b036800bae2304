import Foundation
import HummingbirdTesting
import Notifications
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Pushes end to end: a user's browser subscribes, the platform triggers, the delivery job encrypts and posts
/// to the subscription's push service (a real local HTTP server here), and the test decrypts what arrived as the
/// browser would. Also the automatic pushes for chat messages to people who are away.
@Suite struct PushFlowTests {
    static let policy = WebPushEndpointPolicy(allowedHostSuffixes: ["127.0.0.1"], allowsHTTP: true)

    func configurePush(_ app: TestApp, _ client: some TestClientProtocol) async throws {
        let vapid = WebPushSender.generateVAPIDKeyPair()
        let configured = try await client.json(.put, "/v1/admin/notifications/channels/push", bearer: app.adminKey, body: [
            "providers": [["name": "browsers", "type": "webpush",
                           "config": ["vapid_public_key": .string(vapid.publicKey), "vapid_private_key": .string(vapid.privateKey),
                                      "subject": "mailto:ops@example.com"]]],
        ])
        #expect(configured.status == .ok, "\(configured.body)")
    }

    func subscribe(_ client: some TestClientProtocol, _ token: String, endpoint: String, agent: TestUserAgent) async throws -> JSONResponse {
        try await client.json(.post, "/v1/me/push-subscriptions", bearer: token, body: [
            "endpoint": .string(endpoint), "keys": ["p256dh": .string(agent.p256dh), "auth": .string(agent.auth)],
        ])
    }

    func payload(_ received: TestReceiver.Received, _ agent: TestUserAgent) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: try agent.decrypt(received.body))
    }

    @Test(arguments: TestDatabases.engines)
    func aTriggeredNotificationReachesTheBrowserAndADroppedSubscriptionIsForgotten(engine: DatabaseEngine) async throws {
        try await TestReceiver.run { receiver in
            try await TestApp.run(engine, webPushPolicy: Self.policy) { app, client in
                try await configurePush(app, client)
                let alice = try await app.userToken("alice", client: client)
                let laptop = TestUserAgent(), phone = TestUserAgent()
                #expect(try await subscribe(client, alice, endpoint: receiver.url("/sub/laptop"), agent: laptop).status == .created)
                _ = try await client.json(.put, "/v1/admin/notifications/templates/reply/push/en", bearer: app.adminKey,
                                          body: ["title": "{{who}} replied", "body": "{{text}}"])
                let triggered = try await client.json(.post, "/v1/notifications", bearer: app.serverKey, body: [
                    "template": "reply", "recipients": ["alice"], "data": ["who": "Bob", "text": "Sounds good"], "priority": "high",
                ])
                #expect(triggered.status == .accepted, "\(triggered.body)")
                try await app.drainJobs()
                let first = try #require(receiver.received.first)
                #expect(first.path == "/sub/laptop")
                #expect(first[header: "urgency"] == "high")
                let content = try payload(first, laptop)
                #expect(content["title"] == "Bob replied")
                #expect(content["body"] == "Sounds good")
                let id = try #require(triggered.body["id"]?.stringValue)
                let deliveries = try await client.json(.get, "/v1/admin/notifications/\(id)/deliveries/alice", bearer: app.serverKey)
                #expect(deliveries.body["items"]?.arrayValues?.contains { $0["channel"] == "push" && $0["state"] == "sent" } == true)

                // The phone's subscription expired at the push service (410): the push still reaches the laptop and the
                // phone is forgotten.
                #expect(try await subscribe(client, alice, endpoint: receiver.url("/sub/phone"), agent: phone).status == .created)
                receiver.reset()
                receiver.script([TestReceiver.Reply(status: 410)], fallback: TestReceiver.Reply(status: 201))
                _ = try await client.json(.post, "/v1/notifications", bearer: app.serverKey, body: [
                    "template": "reply", "recipients": ["alice"], "data": ["who": "Carol", "text": "Me too"],
                ])
                try await app.drainJobs()
                #expect(receiver.received.map(\.path) == ["/sub/phone", "/sub/laptop"])
                let devices = try await client.json(.get, "/v1/me/push-devices", bearer: alice).body["items"]?.arrayValues ?? []
                #expect(devices.compactMap { $0["token"]?.stringValue } == [receiver.url("/sub/laptop")])
            }
        }
    }

    @Test func usersWithoutADeviceGetNoPushDeliveryAtAll() async throws {
        try await TestReceiver.run { receiver in
            try await TestApp.run(.sqlite, webPushPolicy: Self.policy) { app, client in
                try await configurePush(app, client)
                _ = try await app.userToken("alice", client: client)
                let bob = try await app.userToken("bob", client: client)
                _ = try await subscribe(client, bob, endpoint: receiver.url("/sub/bob"), agent: TestUserAgent())
                _ = try await client.json(.put, "/v1/admin/notifications/templates/news/push/en", bearer: app.adminKey,
                                          body: ["title": "News", "body": "{{headline}}"])
                let triggered = try await client.json(.post, "/v1/notifications", bearer: app.serverKey, body: [
                    "template": "news", "recipients": ["alice", "bob"], "data": ["headline": "Parley ships push"],
                ])
                #expect(triggered.body["recipients"] == 1)
                try await app.drainJobs()
                #expect(receiver.received.map(\.path) == ["/sub/bob"])
                let id = try #require(triggered.body["id"]?.stringValue)
                let aliceDeliveries = try await client.json(.get, "/v1/admin/notifications/\(id)/deliveries/alice", bearer: app.serverKey)
                #expect(aliceDeliveries.body["items"]?.arrayValues?.isEmpty == true)
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func messagesForSomeoneAwayBecomeOnePushPerConversationAndNoneWhenMutedOrRead(engine: DatabaseEngine) async throws {
        let settings = AutoPushSettings(delay: .zero, urgentDelay: .zero, coalesceWindow: .seconds(3600))
        try await TestReceiver.run { receiver in
            try await TestApp.run(engine, webPushPolicy: Self.policy, autoPushSettings: settings) { app, client in
                try await configurePush(app, client)
                let alice = try await app.userToken("alice", client: client)
                let bob = try await app.userToken("bob", client: client)
                let agent = TestUserAgent()
                _ = try await subscribe(client, bob, endpoint: receiver.url("/sub/bob"), agent: agent)
                let direct = try #require(try await client.json(.post, "/v1/conversations", bearer: alice,
                                                                body: ["type": "direct", "members": ["bob"]]).body["id"]?.stringValue)
                for text in ["are you there?", "lunch at noon", "at the usual place"] {
                    let sent = try await client.json(.post, "/v1/conversations/\(direct)/messages", bearer: alice,
                                                     body: ["client_msg_id": .string(text), "kind": "text", "body": ["text": .string(text)]])
                    #expect(sent.status == .created)
                }
                try await plan(app)
                try await app.drainJobs()
                // Three messages in one window: one push, about the newest, counting the others.
                #expect(receiver.received.count == 1)
                let push = try #require(receiver.received.first)
                #expect(push[header: "urgency"] == "high")
                #expect(push[header: "topic"] != nil)
                let content = try payload(push, agent)
                #expect(content["title"] == "alice")
                #expect(content["body"] == "at the usual place (+2 more)")
                #expect(content["badge"] == 3)

                // Nothing new: a replay of the same plan pushes nothing again.
                try await app.services.database.transaction { sql in
                    try await app.services.events.resetCursor(of: AutoPush.consumerName, at: Date(), on: sql)
                }
                try await plan(app)
                try await app.drainJobs()
                #expect(receiver.received.count == 1)

                // Bob reads everything, then mutes the conversation: later messages push nothing.
                _ = try await client.json(.post, "/v1/conversations/\(direct)/read", bearer: bob, body: ["seq": 100])
                _ = try await client.json(.put, "/v1/conversations/\(direct)/settings", bearer: bob, body: ["muted": true])
                _ = try await client.json(.post, "/v1/conversations/\(direct)/messages", bearer: alice,
                                          body: ["client_msg_id": "later", "kind": "text", "body": ["text": "hello?"]])
                try await plan(app)
                try await app.drainJobs()
                #expect(receiver.received.count == 1)
            }
        }
    }

    /// Runs the automatic-push planner over the event log, as `parley serve`'s consumer runner would.
    func plan(_ app: TestApp) async throws {
        try await app.runConsumer(AutoPush.consumerName)
    }
}
