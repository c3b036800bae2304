import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The SQL behind analytics: writing a batch's facts, counters and bitmaps, and reading them back.
/// Every method runs on the connection or transaction it is given.
struct AnalyticsStore: Sendable {
    let settings: AnalyticsSettings

    static let stateFactsPrunedBefore = "facts_pruned_before"
    static let chunk = 200

    // MARK: Ingest

    /// Applies one batch inside the consumer's transaction. Idempotent: facts already stored add nothing,
    /// bitmap bits already set stay set, and a user's first active instant only moves earlier.
    func apply(_ batch: AnalyticsBatch, on sql: any SQLDatabase) async throws {
        let prunedBefore = try await state(Self.stateFactsPrunedBefore, on: sql) ?? 0
        // A fact older than what retention removed cannot be told apart from one already counted: skip it.
        var facts = batch.facts.filter { $0.occurredAt >= prunedBefore }

        // Conversations: learn types, give numbers to the ones the batch mentions.
        var conversationIDs = Set(batch.conversationTypes.keys)
        for membership in batch.memberships where membership.set == .conversations { conversationIDs.insert(membership.member) }
        for fact in facts where fact.kind == .message { conversationIDs.insert(fact.ref) }
        let conversations = try await conversationNumbers(conversationIDs, types: batch.conversationTypes, on: sql)

        // Users: numbers for every member of a user set, and the earliest activity.
        var firstActive: [String: Int64] = [:]
        var userIDs = Set<String>()
        for membership in batch.memberships where membership.set != .conversations {
            userIDs.insert(membership.member)
            if membership.set == .active {
                firstActive[membership.member] = min(firstActive[membership.member] ?? .max, membership.occurredAt)
            }
        }
        let users = try await userNumbers(userIDs, firstActive: firstActive, on: sql)

        // Facts, then counters for the facts that were new.
        for index in facts.indices where facts[index].kind == .message {
            facts[index].b = conversations[facts[index].ref]?.type ?? "unknown"
        }
        try await resolveNotificationTemplates(&facts, on: sql)
        let inserted = try await insertFacts(facts, on: sql)
        // The facts of one second share all their buckets: they are counted per counter and second first, then
        // spread over that second's buckets once. (Per fact and bucket, the batch's dictionary work and the zones'
        // offset lookups grew with every fact: this runs inside the one SQLite writer's turn.)
        var calendar = BucketCalendar(store: self)
        var perSecond: [SecondCounter: Int64] = [:]
        for fact in facts where inserted.contains(fact.key) {
            let second = BucketCalendar.second(of: fact.occurredAt)
            for (metric, breakdown) in Self.counters(of: fact) {
                perSecond[SecondCounter(metric: metric, breakdown: breakdown, second: second), default: 0] += 1
            }
        }
        var increments: [CounterKey: Int64] = [:]
        for (counter, count) in perSecond {
            for bucket in calendar.buckets(ofSecond: counter.second) {
                increments[CounterKey(metric: counter.metric, zone: bucket.zone, granularity: bucket.granularity, bucket: bucket.bucket,
                                      breakdown: counter.breakdown), default: 0] += count
            }
        }
        try await addToCounters(increments, on: sql)

        // Bitmaps.
        var additions: [SetKey: [UInt32]] = [:]
        for membership in batch.memberships {
            let number: Int64?
            if membership.set == .conversations {
                number = conversations[membership.member]?.number
            } else {
                number = users[membership.member]
            }
            guard let number, let member = UInt32(exactly: number) else { continue }
            // Sets are kept per UTC hour and per day in every zone (not per week).
            for bucket in calendar.buckets(ofSecond: BucketCalendar.second(of: membership.occurredAt)) where bucket.granularity != .week {
                additions[SetKey(name: membership.set.rawValue, zone: bucket.zone, granularity: bucket.granularity, bucket: bucket.bucket),
                          default: []].append(member)
            }
        }
        for (key, members) in additions {
            var bitmap = try await bitmap(key, on: sql) ?? DenseBitmap()
            var changed = false
            for member in members where bitmap.insert(member) { changed = true }
            if changed { try await store(bitmap, as: key, on: sql) }
        }
    }

    /// The counters a fact increases: (metric, breakdown) pairs; breakdown "" is the total.
    static func counters(of fact: AnalyticsBatch.Fact) -> [(String, String)] {
        switch fact.kind {
        case .message:
            return [("messages", ""), ("messages", "kind=\(fact.a)"), ("messages", "conversation_type=\(fact.b)")]
        case .read:
            return [("reads", "")]
        case .interaction:
            return [("interactions", ""), ("interactions", "type=\(fact.a)")]
        case .notification:
            let stage = "notifications_\(fact.a)"
            return [("notifications", ""), ("notifications", "stage=\(fact.a)"), (stage, ""), (stage, "channel=\(fact.b)"),
                    (stage, "template=\(fact.c)")]
        case .filterHit:
            return [("filter_hits", ""), ("filter_hits", "category=\(fact.a)"), ("filter_hits", "action=\(fact.b)")]
        case .reportOpened:
            return [("reports_opened", ""), ("reports_opened", "category=\(fact.a)")]
        case .reportResolved:
            return [("reports_resolved", ""), ("reports_resolved", "resolution=\(fact.a)")]
        case .moderationAction:
            return [("moderation_actions", ""), ("moderation_actions", "action=\(fact.a)")]
        }
    }

    /// The buckets an instant falls in: its UTC hour, and its day and week in every zone.
    func buckets(of ms: Int64) -> [(zone: String, granularity: Granularity, bucket: Int64)] {
        var result: [(zone: String, granularity: Granularity, bucket: Int64)] = [
            (ReportingZone.utc.identifier, .hour, ReportingZone.hour(ofMilliseconds: ms)),
        ]
        for zone in settings.zones {
            let day = zone.day(ofMilliseconds: ms)
            result.append((zone.identifier, .day, day))
            result.append((zone.identifier, .week, ReportingZone.week(ofDay: day)))
        }
        return result
    }

    struct CounterKey: Hashable {
        var metric: String
        var zone: String
        var granularity: Granularity
        var bucket: Int64
        var breakdown: String
    }

    /// A counter's facts within one second (`apply`).
    struct SecondCounter: Hashable {
        var metric: String
        var breakdown: String
        var second: Int64
    }

    /// `buckets(of:)` per second, each second worked out once: every instant of a second falls in the same UTC hour
    /// and the same day and week of every zone, since hours, days and changes of a zone's offset begin on whole
    /// seconds.
    struct BucketCalendar {
        let store: AnalyticsStore
        private var known: [Int64: [(zone: String, granularity: Granularity, bucket: Int64)]] = [:]

        init(store: AnalyticsStore) {
            self.store = store
        }

        static func second(of ms: Int64) -> Int64 { ReportingZone.floorDiv(ms, 1000) }

        mutating func buckets(ofSecond second: Int64) -> [(zone: String, granularity: Granularity, bucket: Int64)] {
            if let buckets = known[second] { return buckets }
            let buckets = store.buckets(of: second * 1000)
            known[second] = buckets
            return buckets
        }
    }

    struct SetKey: Hashable {
        var name: String
        var zone: String
        var granularity: Granularity
        var bucket: Int64
    }

    func conversationNumbers(
        _ ids: Set<String>, types: [String: String], on sql: any SQLDatabase
    ) async throws -> [String: (number: Int64, type: String)] {
        guard !ids.isEmpty else { return [:] }
        var known: [String: (number: Int64, type: String)] = [:]
        for chunk in Array(ids.sorted()).chunked(Self.chunk) {
            let rows = try await sql.raw("""
                SELECT conversation_id, number, type FROM analytics_conversations WHERE conversation_id IN (\(SQLList(chunk.map { SQLBind($0) })))
                """).all()
            for row in rows {
                known[try row.decode(column: "conversation_id", as: String.self)] =
                    (try row.decode(column: "number", as: Int64.self), try row.decode(column: "type", as: String.self))
            }
        }
        for (id, type) in types.sorted(by: { $0.key < $1.key }) {
            if let existing = known[id], existing.type != type {
                try await sql.raw("UPDATE analytics_conversations SET type = \(bind: type) WHERE conversation_id = \(bind: id)").run()
                known[id] = (existing.number, type)
            }
        }
        let missing = ids.subtracting(known.keys).sorted()
        guard !missing.isEmpty else { return known }
        var next = try await sql.raw("SELECT COALESCE(MAX(number), -1) + 1 AS next FROM analytics_conversations").first()?
            .decode(column: "next", as: Int64.self) ?? 0
        for chunk in missing.chunked(Self.chunk) {
            var values: [SQLQueryString] = []
            for id in chunk {
                let type = types[id] ?? "unknown"
                values.append("(\(bind: id), \(bind: next), \(bind: type))")
                known[id] = (next, type)
                next += 1
            }
            try await sql.raw("""
                INSERT INTO analytics_conversations (conversation_id, number, type) VALUES \(values.joined(separator: ", "))
                """).run()
        }
        return known
    }

    func userNumbers(_ ids: Set<String>, firstActive: [String: Int64], on sql: any SQLDatabase) async throws -> [String: Int64] {
        guard !ids.isEmpty else { return [:] }
        var known: [String: (number: Int64, first: Int64)] = [:]
        for chunk in Array(ids.sorted()).chunked(Self.chunk) {
            let rows = try await sql.raw("""
                SELECT user_id, number, first_active_at FROM analytics_users WHERE user_id IN (\(SQLList(chunk.map { SQLBind($0) })))
                """).all()
            for row in rows {
                known[try row.decode(column: "user_id", as: String.self)] =
                    (try row.decode(column: "number", as: Int64.self), try row.decode(column: "first_active_at", as: Int64.self))
            }
        }
        var numbers = known.mapValues(\.number)
        for (id, existing) in known.sorted(by: { $0.key < $1.key }) {
            if let first = firstActive[id], first < existing.first {
                try await sql.raw("UPDATE analytics_users SET first_active_at = \(bind: first) WHERE user_id = \(bind: id)").run()
            }
        }
        let missing = ids.subtracting(known.keys).sorted()
        guard !missing.isEmpty else { return numbers }
        var next = try await sql.raw("SELECT COALESCE(MAX(number), -1) + 1 AS next FROM analytics_users").first()?
            .decode(column: "next", as: Int64.self) ?? 0
        for chunk in missing.chunked(Self.chunk) {
            var values: [SQLQueryString] = []
            for id in chunk {
                // A user seen only as a reader of someone else's set is still active (reading makes them so); the
                // fallback keeps the column meaningful for a user first met in a non-activity set.
                let first = firstActive[id] ?? .max
                values.append("(\(bind: id), \(bind: next), \(bind: first))")
                numbers[id] = next
                next += 1
            }
            try await sql.raw("INSERT INTO analytics_users (user_id, number, first_active_at) VALUES \(values.joined(separator: ", "))").run()
        }
        return numbers
    }

    /// Notification facts after `requested` name their template only through the notification: look it up.
    func resolveNotificationTemplates(_ facts: inout [AnalyticsBatch.Fact], on sql: any SQLDatabase) async throws {
        var templates: [String: String] = [:]
        for fact in facts where fact.kind == .notification && fact.a == "requested" && !fact.ref.isEmpty { templates[fact.ref] = fact.c }
        let wanted = Set(facts.filter { $0.kind == .notification && $0.c.isEmpty && !$0.ref.isEmpty }.map(\.ref)).subtracting(templates.keys)
        for chunk in Array(wanted.sorted()).chunked(Self.chunk) {
            let rows = try await sql.raw("""
                SELECT ref, dim_c FROM analytics_facts WHERE kind = 'notification' AND dim_a = 'requested'
                AND ref IN (\(SQLList(chunk.map { SQLBind($0) })))
                """).all()
            for row in rows { templates[try row.decode(column: "ref", as: String.self)] = try row.decode(column: "dim_c", as: String.self) }
        }
        for index in facts.indices where facts[index].kind == .notification && facts[index].c.isEmpty {
            facts[index].c = templates[facts[index].ref] ?? ""
        }
    }

    /// Which of a batch's facts were stored now, not before (a replayed event's facts were).
    enum InsertedFacts {
        /// Every fact of the batch: the usual case, told without reading back each key.
        case all
        case only(Set<String>)

        func contains(_ key: String) -> Bool {
            switch self {
            case .all: true
            case .only(let keys): keys.contains(key)
            }
        }
    }

    /// Inserts facts that are not stored yet; returns which were new.
    func insertFacts(_ facts: [AnalyticsBatch.Fact], on sql: any SQLDatabase) async throws -> InsertedFacts {
        var seen = Set<String>()
        // A fact whose key repeats within the batch counts once; with no repeat and every row stored, all are new.
        let unique = facts.filter { seen.insert($0.key).inserted }
        var returned: [[any SQLRow]] = []
        var storedCount = 0
        for chunk in unique.chunked(Self.chunk) {
            var statement = BulkSQL("INSERT INTO analytics_facts (fact_key, kind, occurred_at, position, subject, ref, dim_a, dim_b, dim_c) VALUES")
            for (index, fact) in chunk.enumerated() {
                statement.append(index > 0 ? ", " : " ")
                statement.row([fact.key, fact.kind.rawValue, fact.occurredAt, fact.position, fact.subject, fact.ref, fact.a, fact.b, fact.c])
            }
            let rows = try await sql.all(statement + " ON CONFLICT (fact_key) DO NOTHING RETURNING fact_key")
            storedCount += rows.count
            returned.append(rows)
        }
        if storedCount == facts.count { return .all }
        var inserted = Set<String>()
        for rows in returned {
            for row in rows { inserted.insert(try row.decode(column: "fact_key", as: String.self)) }
        }
        return .only(inserted)
    }

    func addToCounters(_ increments: [CounterKey: Int64], on sql: any SQLDatabase) async throws {
        let sorted = increments.sorted { ($0.key.metric, $0.key.zone, $0.key.granularity.rawValue, $0.key.bucket, $0.key.breakdown)
            < ($1.key.metric, $1.key.zone, $1.key.granularity.rawValue, $1.key.bucket, $1.key.breakdown) }
        for chunk in sorted.chunked(Self.chunk) {
            var statement = BulkSQL("INSERT INTO analytics_counts (metric, zone, granularity, bucket, breakdown, value) VALUES")
            for (index, (key, value)) in chunk.enumerated() {
                statement.append(index > 0 ? ", " : " ")
                statement.row([key.metric, key.zone, key.granularity.rawValue, key.bucket, key.breakdown, value])
            }
            try await sql.run(statement + """
                 ON CONFLICT (metric, zone, granularity, bucket, breakdown) DO UPDATE SET value = analytics_counts.value + excluded.value
                """)
        }
    }

    func bitmap(_ key: SetKey, on sql: any SQLDatabase) async throws -> DenseBitmap? {
        let row = try await sql.raw("""
            SELECT bitmap FROM analytics_sets WHERE name = \(bind: key.name) AND zone = \(bind: key.zone)
            AND granularity = \(bind: key.granularity.rawValue) AND bucket = \(bind: key.bucket)
            """).first()
        guard let row else { return nil }
        return try DenseBitmap(encoded: try row.decode(column: "bitmap", as: Data.self))
    }

    func store(_ bitmap: DenseBitmap, as key: SetKey, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO analytics_sets (name, zone, granularity, bucket, cardinality, bitmap)
            VALUES (\(bind: key.name), \(bind: key.zone), \(bind: key.granularity.rawValue), \(bind: key.bucket), \(bind: Int64(bitmap.count)),
                \(bind: bitmap.encoded()))
            ON CONFLICT (name, zone, granularity, bucket) DO UPDATE SET cardinality = excluded.cardinality, bitmap = excluded.bitmap
            """).run()
    }

    func state(_ key: String, on sql: any SQLDatabase) async throws -> Int64? {
        try await sql.raw("SELECT value FROM analytics_state WHERE key = \(bind: key)").first()?.decode(column: "value", as: Int64.self)
    }

    func setState(_ key: String, _ value: Int64, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO analytics_state (key, value) VALUES (\(bind: key), \(bind: value))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """).run()
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
