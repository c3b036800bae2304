import Analytics
import Events
import Notifications
import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Analytics fed by the real write path: messages sent over the API become counted messages and active
/// users once the analytics consumer has read the event log.
@Suite struct AnalyticsFlowTests {
    @Test(arguments: TestDatabases.engines)
    func messagesSentThroughTheAPIShowUpInTheMetrics(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let created = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            let conversation = try #require(created.body["id"]?.stringValue)
            for (index, token) in [alice, bob, alice].enumerated() {
                let sent = try await client.json(.post, "/v1/conversations/\(conversation)/messages", bearer: token,
                                                 body: ["client_msg_id": .string("a\(index)"), "kind": "text", "body": ["text": .string("hello \(index)")]])
                #expect(sent.status == .created)
            }
            try await app.runConsumer(AnalyticsConsumer.consumerName)

            let now = Date()
            let day = Timestamp.format(Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400))
            let tomorrow = Timestamp.format(Date(timeIntervalSince1970: ((now.timeIntervalSince1970 / 86_400).rounded(.down) + 1) * 86_400))
            let messages = try await client.json(.get, "/v1/analytics/metrics/messages?from=\(day)&to=\(tomorrow)&granularity=day&tz=UTC",
                                                 bearer: app.adminKey)
            #expect(messages.status == .ok)
            let messageCount = messages.body["points"]?.arrayValues?.compactMap { $0["value"]?.intValue }.reduce(0, +)
            #expect(messageCount == 3)
            let dau = try await client.json(.get, "/v1/analytics/metrics/active_users?from=\(day)&to=\(tomorrow)&granularity=day&tz=UTC",
                                            bearer: app.adminKey)
            #expect(dau.body["points"]?.arrayValues?.first?["value"] == 2)
            let byType = try await client.json(
                .get, "/v1/analytics/metrics/messages?from=\(day)&to=\(tomorrow)&granularity=day&tz=UTC&breakdown=conversation_type",
                bearer: app.adminKey)
            let breakdowns = byType.body["points"]?.arrayValues?.compactMap { $0["breakdown"]?.stringValue } ?? []
            #expect(breakdowns.contains("direct"))
            #expect(!breakdowns.contains("unknown"))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theNotificationFunnelCountsRequestedDeliveredSeenAndRead(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let alice = try await app.userToken("alice", client: client)
            _ = try await app.userToken("bob", client: client)
            let services = app.services
            _ = try await services.notifications.putTemplate(key: "hello", channel: .inApp, locale: "en",
                                                             fields: ["title": "Hello {{name}}", "body": "A note"])
            let result = try await services.notifications.trigger(
                TriggerRequest(templateKey: "hello", recipients: .users([try UserID(validating: "alice"), try UserID(validating: "bob")]),
                               data: ["name": "you"]),
                actor: "key:test"
            )
            let read = try await client.json(.post, "/v1/me/notifications/\(result.id)/read", bearer: alice)
            #expect(read.status == .ok)
            try await app.runConsumer(AnalyticsConsumer.consumerName)

            let now = Date()
            let day = Timestamp.format(Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400))
            let tomorrow = Timestamp.format(Date(timeIntervalSince1970: ((now.timeIntervalSince1970 / 86_400).rounded(.down) + 1) * 86_400))
            let funnel = try await client.json(
                .get, "/v1/analytics/metrics/notifications?from=\(day)&to=\(tomorrow)&granularity=day&tz=UTC&breakdown=stage", bearer: app.adminKey)
            #expect(funnel.status == .ok)
            var byStage: [String: Int] = [:]
            for point in funnel.body["points"]?.arrayValues ?? [] {
                if let stage = point["breakdown"]?.stringValue, let value = point["value"]?.intValue { byStage[stage, default: 0] += value }
            }
            #expect(byStage["requested"] == 1)
            #expect(byStage["delivered"] == 2)
            #expect(byStage["seen"] == 1)
            #expect(byStage["read"] == 1)
        }
    }

    @Test func filterHitsAndReportsShowUpAsRiskMetrics() async throws {
        try await TestApp.run(.sqlite) { app, client in
            _ = try await client.json(.put, "/v1/moderation/filter/words", bearer: app.adminKey,
                                      body: ["entries": [["word": "forbidden", "action": "reject", "category": "banned"]]])
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let created = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            let conversation = try #require(created.body["id"]?.stringValue)
            let refused = try await client.json(.post, "/v1/conversations/\(conversation)/messages", bearer: alice,
                                                body: ["client_msg_id": "f1", "kind": "text", "body": ["text": "this is forbidden"]])
            #expect(refused.errorCode == "moderation.sensitive_word")
            let report = try await client.json(.post, "/v1/reports", bearer: bob,
                                               body: ["subject_type": "user", "subject_id": "alice", "category": "spam", "text": "spammy"])
            #expect(report.status.code < 300)
            try await app.runConsumer(AnalyticsConsumer.consumerName)
            let now = Date()
            let day = Timestamp.format(Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400))
            let tomorrow = Timestamp.format(Date(timeIntervalSince1970: ((now.timeIntervalSince1970 / 86_400).rounded(.down) + 1) * 86_400))
            func total(_ metric: String) async throws -> Int {
                let series = try await client.json(.get, "/v1/analytics/metrics/\(metric)?from=\(day)&to=\(tomorrow)&granularity=day&tz=UTC",
                                                   bearer: app.adminKey)
                return (series.body["points"]?.arrayValues ?? []).compactMap { $0["value"]?.intValue }.reduce(0, +)
            }
            #expect(try await total("filter_hits") == 1)
            #expect(try await total("reports_opened") == 1)
        }
    }
}
