import Analytics
import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import SQLKit

/// A fresh database with the event log and analytics, a manual clock, and helpers that append events at
/// chosen instants and drive the analytics consumer to the head of the log.
struct AnalyticsFixture: Sendable {
    let database: Database
    let log: EventLog
    let clock: ManualWallClock
    let service: AnalyticsService
    let consumer: AnalyticsConsumer
    let runner: ConsumerRunner

    static func run(
        _ engine: DatabaseEngine, settings: AnalyticsSettings = AnalyticsSettings(reportingZone: ReportingZone(identifier: "Asia/Shanghai")!),
        now: String = "2026-01-20T00:00:00Z", _ body: @Sendable (AnalyticsFixture) async throws -> Void
    ) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations, AnalyticsContext.migrations]) { database in
            let clock = ManualWallClock(at(now))
            let log = EventLog(database: database, ids: SortableIDGenerator(clock: clock))
            let service = AnalyticsService(database: database, events: log, clock: clock, settings: settings)
            let consumer = service.consumer(logger: TestDatabases.logger)
            // A small batch size so a run crosses several batches.
            let runner = ConsumerRunner(log: log, consumers: [consumer], database: database, clock: clock, logger: TestDatabases.logger,
                                        batchSize: 7)
            try await body(AnalyticsFixture(database: database, log: log, clock: clock, service: service, consumer: consumer, runner: runner))
        }
    }

    /// Appends events in one transaction.
    func append(_ events: [NewEvent]) async throws {
        try await database.transaction { sql in try await log.append(events, on: sql) }
    }

    /// Runs the consumer until its cursor reaches the head of the log.
    func drain() async throws {
        while try await runner.step(consumer) {}
    }

    func series(_ metric: String, _ from: String, _ to: String, _ granularity: Granularity = .day, tz: String = "UTC",
                breakdown: String? = nil) async throws -> MetricSeries {
        try await service.series(MetricQuery(metric: metric, from: at(from), to: at(to), granularity: granularity,
                                             zone: ReportingZone(identifier: tz)!, breakdown: breakdown))
    }

    /// The value of a one-bucket query.
    func value(_ metric: String, _ from: String, _ to: String, _ granularity: Granularity = .day, tz: String = "UTC") async throws -> Double? {
        let points = try await series(metric, from, to, granularity, tz: tz).points
        precondition(points.count == 1, "expected one bucket, got \(points.count)")
        return points[0].value
    }
}

func at(_ text: String) -> Date {
    guard let date = Timestamp.parse(text) else { fatalError("bad timestamp \(text)") }
    return date
}

/// Event builders with the payloads Messaging, Identity and Notifications write.
enum Ev {
    static func connected(_ user: String, _ time: String) -> NewEvent {
        NewEvent(type: "user.connected", actor: "user:\(user)", subject: "user:\(user)", payload: ["user_id": .string(user)], occurredAt: at(time))
    }

    static func conversation(_ id: String, type: String, members: [String], _ time: String) -> NewEvent {
        NewEvent(type: "conversation.created", actor: "user:\(members[0])", subject: "conversation:\(id)",
                 payload: ["conversation_id": .string(id), "seq": 1, "item_id": .string("m_\(id)_0"), "kind": "conversation_created",
                           "sender_id": .string(members[0]),
                           "body": ["type": .string(type), "members": .array(members.map { .string($0) })]],
                 occurredAt: at(time))
    }

    static func message(_ conversation: String, from user: String, _ time: String, kind: String = "text", replyTo: String? = nil,
                        mentions: [String] = []) -> NewEvent {
        var payload: [String: JSONValue] = [
            "conversation_id": .string(conversation), "seq": 2, "item_id": "m_x", "kind": .string(kind), "sender_id": .string(user),
            "fanout": "item",
        ]
        if let replyTo { payload["reply_to"] = .string(replyTo) }
        if !mentions.isEmpty { payload["mentions"] = .array(mentions.map { .string($0) }) }
        return NewEvent(type: "message.created", actor: "user:\(user)", subject: "conversation:\(conversation)", payload: .object(payload),
                        occurredAt: at(time))
    }

    static func system(_ conversation: String, _ time: String) -> NewEvent {
        NewEvent(type: "message.created", actor: "key:k_1", subject: "conversation:\(conversation)",
                 payload: ["conversation_id": .string(conversation), "seq": 3, "item_id": "m_s", "kind": "system", "sender_id": "system"],
                 occurredAt: at(time))
    }

    static func read(_ conversation: String, by user: String, _ time: String) -> NewEvent {
        NewEvent(type: "conversation.read", actor: "user:\(user)", subject: "conversation:\(conversation)",
                 payload: ["conversation_id": .string(conversation), "user_id": .string(user), "read_seq": 2, "fanout": "read"],
                 occurredAt: at(time))
    }

    static func reaction(_ conversation: String, by user: String, _ time: String) -> NewEvent {
        NewEvent(type: "message.reaction_added", actor: "user:\(user)", subject: "conversation:\(conversation)",
                 payload: ["conversation_id": .string(conversation), "seq": 4, "item_id": "m_r", "kind": "reaction", "sender_id": .string(user)],
                 occurredAt: at(time))
    }
}
