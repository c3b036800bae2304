import Analytics
import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Messages by kind and conversation type, active conversations, senders and readers, interactions and the
/// notification funnel, from one day of events with known answers.
@Suite struct MessageMetricsTests {
    static let sequence: [NewEvent] = [
        Ev.conversation("c_fg", type: "direct", members: ["frank", "gina"], "2026-01-10T08:00:00Z"),
        Ev.conversation("c_grp", type: "group", members: ["frank", "gina", "hank"], "2026-01-10T08:00:00Z"),
        Ev.message("c_fg", from: "frank", "2026-01-10T09:00:00Z"),
        Ev.message("c_fg", from: "gina", "2026-01-10T09:05:00Z", kind: "image", replyTo: "m_1", mentions: ["frank"]),
        Ev.message("c_grp", from: "hank", "2026-01-10T10:00:00Z", mentions: ["frank", "gina", "frank"]),
        Ev.system("c_grp", "2026-01-10T11:00:00Z"),
        Ev.reaction("c_grp", by: "gina", "2026-01-10T12:00:00Z"),
        Ev.read("c_grp", by: "hank", "2026-01-10T12:30:00Z"),
        Ev.read("c_fg", by: "frank", "2026-01-10T13:00:00Z"),
        Ev.message("c_unknown", from: "ivan", "2026-01-10T14:00:00Z"),
        NewEvent(type: "notification.triggered", actor: "key:k_1", subject: "notification:n_1",
                 payload: ["notification_id": "n_1", "template": "welcome", "category": "general"], occurredAt: at("2026-01-10T15:00:00Z")),
        NewEvent(type: "notification.delivered", actor: "system", subject: "notification:n_1",
                 payload: ["notification_id": "n_1", "channel": "in_app", "user_ids": ["frank", "gina"]], occurredAt: at("2026-01-10T15:01:00Z")),
    ]

    static let day = ("2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z")

    static func breakdown(_ series: MetricSeries) -> [String: Double] {
        var result: [String: Double] = [:]
        for point in series.points { result[point.breakdown ?? ""] = point.value }
        return result
    }

    @Test(arguments: TestDatabases.engines)
    func messagesAreCountedByKindAndConversationType(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.sequence)
            try await fx.drain()
            let (from, to) = Self.day
            #expect(try await fx.value("messages", from, to) == 5)
            #expect(Self.breakdown(try await fx.series("messages", from, to, breakdown: "kind")) == ["text": 3, "image": 1, "system": 1])
            #expect(Self.breakdown(try await fx.series("messages", from, to, breakdown: "conversation_type"))
                == ["direct": 2, "group": 2, "unknown": 1])
            #expect(try await fx.value("messages", "2026-01-10T09:00:00Z", "2026-01-10T10:00:00Z", .hour) == 2)
            #expect(try await fx.value("messages", from, to, .week) == 5)
            #expect(try await fx.value("active_conversations", from, to) == 3)
            #expect(try await fx.value("senders", from, to) == 4)
            #expect(try await fx.value("readers", from, to) == 2)
            #expect(try await fx.value("reads", from, to) == 2)
            #expect(try await fx.value("active_users", from, to) == 4)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func interactionsCountReactionsRepliesAndEachMentionedUserOnce(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.sequence)
            try await fx.drain()
            let (from, to) = Self.day
            #expect(try await fx.value("reactions", from, to) == 1)
            #expect(try await fx.value("replies", from, to) == 1)
            #expect(try await fx.value("mentions", from, to) == 3)
            #expect(try await fx.value("interactions", from, to) == 5)
            #expect(Self.breakdown(try await fx.series("interactions", from, to, breakdown: "type")) == ["reaction": 1, "reply": 1, "mention": 3])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theNotificationFunnelCountsTriggersAndPerRecipientDeliveriesWithTheirTemplate(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.sequence)
            try await fx.drain()
            let (from, to) = Self.day
            #expect(Self.breakdown(try await fx.series("notifications", from, to, breakdown: "stage")) == ["requested": 1, "delivered": 2])
            #expect(try await fx.value("notifications_requested", from, to) == 1)
            #expect(try await fx.value("notifications_delivered", from, to) == 2)
            #expect(Self.breakdown(try await fx.series("notifications_delivered", from, to, breakdown: "channel")) == ["in_app": 2])
            #expect(Self.breakdown(try await fx.series("notifications_delivered", from, to, breakdown: "template")) == ["welcome": 2])
            #expect(try await fx.value("notifications_clicked", from, to) == 0)
        }
    }

    /// One batch whose messages straddle midnight in UTC and in Shanghai by fractions of a second, two of them in the
    /// same second: the consumer counts the facts of a second together before spreading them over the second's
    /// buckets, and each message must still land in its own hour and day in both zones.
    @Test(arguments: TestDatabases.engines)
    func messagesOfOneBatchAcrossMidnightCountInTheirOwnHourAndDayInEachZone(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            func message(_ time: String, plus seconds: TimeInterval) -> NewEvent {
                var event = Ev.message("c_fg", from: "frank", time)
                event.occurredAt = at(time).addingTimeInterval(seconds)
                return event
            }
            try await fx.append([
                Ev.conversation("c_fg", type: "direct", members: ["frank", "gina"], "2026-01-10T08:00:00Z"),
                message("2026-01-10T15:59:59Z", plus: 0.9),  // the 10th in Shanghai (23:59:59.9 there)
                message("2026-01-10T16:00:00Z", plus: 0.1),  // the 11th in Shanghai
                message("2026-01-10T23:59:59Z", plus: 0.1),  // two in the same second, the 10th in UTC
                message("2026-01-10T23:59:59Z", plus: 0.5),
                message("2026-01-11T00:00:00Z", plus: 0.2),  // the 11th in UTC
            ])
            try await fx.drain()
            #expect(try await fx.value("messages", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z") == 4)
            #expect(try await fx.value("messages", "2026-01-11T00:00:00Z", "2026-01-12T00:00:00Z") == 1)
            #expect(try await fx.value("messages", "2026-01-09T16:00:00Z", "2026-01-10T16:00:00Z", tz: "Asia/Shanghai") == 1)
            #expect(try await fx.value("messages", "2026-01-10T16:00:00Z", "2026-01-11T16:00:00Z", tz: "Asia/Shanghai") == 4)
            #expect(try await fx.value("messages", "2026-01-10T15:00:00Z", "2026-01-10T16:00:00Z", .hour) == 1)
            #expect(try await fx.value("messages", "2026-01-10T16:00:00Z", "2026-01-10T17:00:00Z", .hour) == 1)
            #expect(try await fx.value("messages", "2026-01-10T23:00:00Z", "2026-01-11T00:00:00Z", .hour) == 2)
            #expect(try await fx.value("messages", "2026-01-11T00:00:00Z", "2026-01-11T01:00:00Z", .hour) == 1)
            // The sender is active on both days in both zones (the bitmaps take the same per-second buckets).
            #expect(try await fx.value("senders", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z") == 1)
            #expect(try await fx.value("senders", "2026-01-11T00:00:00Z", "2026-01-12T00:00:00Z") == 1)
            #expect(try await fx.value("senders", "2026-01-09T16:00:00Z", "2026-01-10T16:00:00Z", tz: "Asia/Shanghai") == 1)
            #expect(try await fx.value("senders", "2026-01-10T16:00:00Z", "2026-01-11T16:00:00Z", tz: "Asia/Shanghai") == 1)
        }
    }
}
