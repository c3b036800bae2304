import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import SQLKit

/// The Notifications context: triggers, templates, inboxes, preferences, topics, digests and deliveries.
///
/// Guarantees:
/// - A trigger with an `Idempotency-Key` runs once per (caller, key) within `idempotencyWindow`; a replay
///   returns the first answer, and the same key with another body is `notifications.idempotency_conflict`.
/// - A broadcast (topic or `all`) stores one notification and a chain of fan-out jobs, each expanding one
///   chunk of recipients in one transaction; a retried chunk adds nothing twice.
/// - In-app entries are written by the fan-out itself; every external channel gets a delivery row and a job.
/// - Counts are derived from inbox rows, never kept as counters.
public struct NotificationService: Sendable {
    public static let fanOutJobKind = "notifications.fanout"
    public static let deliveryJobKind = "notifications.deliver"
    public static let digestJobKind = "notifications.digest"
    public static let resurfaceJobKind = "notifications.resurface"

    let database: Database
    let outbox: any EventOutbox
    let jobs: JobQueue
    let users: any NotificationUserDirectory
    let clock: any WallClock
    let ids: any IDGenerator
    public let settings: NotificationSettings
    let channels: [NotificationChannelKind: any NotificationChannel]

    public init(database: Database, outbox: any EventOutbox, jobs: JobQueue, users: any NotificationUserDirectory, clock: any WallClock,
                ids: any IDGenerator, settings: NotificationSettings, channels: [any NotificationChannel] = []) {
        self.database = database
        self.outbox = outbox
        self.jobs = jobs
        self.users = users
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.channels = Dictionary(channels.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Trigger

    /// Triggers a notification. `actor` is the caller's principal label; it scopes the idempotency key.
    ///
    /// Throws `notifications.template_not_found`, `notifications.category_not_found`,
    /// `notifications.missing_variable`, `notifications.idempotency_conflict` and `request.*` validation errors.
    public func trigger(_ request: TriggerRequest, actor: String, idempotencyKey: String? = nil) async throws -> TriggerResult {
        try validate(request)
        let category = try await category(request.category)
        let templates = try await templates(key: request.templateKey)
        guard !templates.isEmpty else { throw ParleyError.templateNotFound(request.templateKey) }
        // Render every variant now: a missing variable is the caller's error, before anything is stored.
        let sampleData = request.digest == nil ? request.data : Self.digestData([request.data])
        let rendered = try render(templates, data: sampleData)
        var recipients = request.recipients
        if case .users(let list) = request.recipients {
            let active = try await users.activeUsers(among: list)
            recipients = .users(list.filter(active.contains))
        }
        let requestHash = try Self.hash(request)
        let now = clock.now()
        let id = ids.next(prefix: "n_")
        let finalRecipients = recipients
        let result = try await database.transaction { sql -> TriggerResult in
            if let idempotencyKey, let replay = try await claimIdempotencyKey(idempotencyKey, scope: actor, hash: requestHash, now: now, on: sql) {
                return replay
            }
            let result = try await store(request, id: id, recipients: finalRecipients, category: category, rendered: rendered, actor: actor,
                                         now: now, on: sql)
            if let idempotencyKey {
                try await sql.raw("""
                    UPDATE notifications_idempotency SET response = \(bind: try result.json.jsonText())
                    WHERE scope = \(bind: actor) AND idempotency_key = \(bind: idempotencyKey)
                    """).run()
            }
            return result
        }
        return result
    }

    private func store(_ request: TriggerRequest, id: String, recipients: RecipientSpec, category: NotificationCategory,
                       rendered: JSONValue, actor: String, now: Date, on sql: any SQLDatabase) async throws -> TriggerResult {
        if let dedup = request.dedup {
            let claimed = try await sql.raw("""
                INSERT INTO notifications_dedup (dedup_key, notification_id, expires_at)
                VALUES (\(bind: dedup.key), \(bind: id), \(bind: now.addingTimeInterval(dedup.window).unixMilliseconds))
                ON CONFLICT (dedup_key) DO UPDATE SET notification_id = excluded.notification_id, expires_at = excluded.expires_at
                WHERE notifications_dedup.expires_at <= \(bind: now.unixMilliseconds)
                RETURNING notification_id
                """).all()
            if claimed.isEmpty {
                let first = try await sql.raw("SELECT notification_id FROM notifications_dedup WHERE dedup_key = \(bind: dedup.key)")
                    .first()?.decode(column: "notification_id", as: String.self)
                return TriggerResult(id: first ?? id, status: .deduplicated, recipients: 0)
            }
        }
        let scheduled = request.sendAt.map { $0 > now } ?? false
        let state: NotificationRecord.State
        if request.digest != nil {
            state = .digested
        } else if scheduled {
            state = .scheduled
        } else {
            state = recipients.isBroadcast ? .fanningOut : .sent
        }
        let record = NotificationRecord(
            id: id, templateKey: request.templateKey, category: category.id, priority: request.priority, recipients: recipients,
            data: request.data, state: state, recipientCount: 0, sendAt: request.sendAt, digestCount: nil, createdAt: now
        )
        try await insert(record, rendered: rendered, actor: actor, digestID: nil, on: sql)
        try await outbox.append(NewEvent(
            type: "notification.triggered", actor: actor, subject: "notification:\(id)",
            payload: ["notification_id": .string(id), "template": .string(request.templateKey), "category": .string(category.id),
                      "priority": .string(request.priority.rawValue), "recipients": recipients.json, "state": .string(state.rawValue)],
            occurredAt: now
        ), on: sql)
        switch state {
        case .digested:
            guard case .users(let list) = recipients, let digest = request.digest else { break }
            for user in list {
                try await appendToDigest(trigger: id, user: user, request: request, digest: digest, category: category.id, now: now, on: sql)
            }
            return TriggerResult(id: id, status: .digested, recipients: list.count)
        case .scheduled:
            try await jobs.enqueue([NewJob(kind: Self.fanOutJobKind, payload: ["notification_id": .string(id)], runAt: request.sendAt,
                                           uniqueKey: "nfan:\(id):")], on: sql)
            return TriggerResult(id: id, status: .scheduled, recipients: nil)
        case .fanningOut:
            try await jobs.enqueue([NewJob(kind: Self.fanOutJobKind, payload: ["notification_id": .string(id)], uniqueKey: "nfan:\(id):")],
                                   on: sql)
            return TriggerResult(id: id, status: .accepted, recipients: nil)
        case .sent:
            guard case .users(let list) = recipients else { break }
            let reached = try await deliver(record, rendered: rendered, to: list, now: now, on: sql)
            try await sql.raw("UPDATE notifications_notifications SET recipient_count = \(bind: reached) WHERE id = \(bind: id)").run()
            return TriggerResult(id: id, status: .accepted, recipients: reached)
        }
        return TriggerResult(id: id, status: .accepted, recipients: nil)
    }

    func insert(_ record: NotificationRecord, rendered: JSONValue, actor: String, digestID: String?, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO notifications_notifications (id, template_key, category, priority, recipients, data, rendered, state, recipient_count,
                actor, send_at, digest_id, digest_count, created_at, updated_at)
            VALUES (\(bind: record.id), \(bind: record.templateKey), \(bind: record.category), \(bind: record.priority.rawValue),
                \(bind: try record.recipients.json.jsonText()), \(bind: try JSONValue.object(record.data).jsonText()),
                \(bind: try rendered.jsonText()), \(bind: record.state.rawValue), \(bind: record.recipientCount), \(bind: actor),
                \(bind: record.sendAt?.unixMilliseconds), \(bind: digestID), \(bind: record.digestCount),
                \(bind: record.createdAt.unixMilliseconds), \(bind: record.createdAt.unixMilliseconds))
            """).run()
    }

    /// Takes the idempotency key for this request, or returns the first answer when it was used with the same body.
    private func claimIdempotencyKey(_ key: String, scope: String, hash: String, now: Date, on sql: any SQLDatabase) async throws -> TriggerResult? {
        let expired = now.addingTimeInterval(-settings.idempotencyWindow).unixMilliseconds
        // A key older than the window is free again: take it over. Otherwise the first request's row stands.
        let claimed = try await sql.raw("""
            INSERT INTO notifications_idempotency (scope, idempotency_key, request_hash, response, created_at)
            VALUES (\(bind: scope), \(bind: key), \(bind: hash), NULL, \(bind: now.unixMilliseconds))
            ON CONFLICT (scope, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash, response = NULL,
                created_at = excluded.created_at
            WHERE notifications_idempotency.created_at < \(bind: expired)
            RETURNING scope
            """).all()
        guard claimed.isEmpty else { return nil }
        guard let row = try await sql.raw("""
            SELECT request_hash, response FROM notifications_idempotency WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
            """).first() else { return nil }
        guard try row.decode(column: "request_hash", as: String.self) == hash else { throw ParleyError.idempotencyConflict(key) }
        guard let text = try row.decodeOptional("response", as: String.self),
              let result = TriggerResult(json: try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) else {
            throw ParleyError.idempotencyConflict(key)
        }
        return result
    }

    // MARK: Validation and rendering

    static let keyPattern = "letters, digits, '_', '-', '.' and ':', 1 to 100 characters"

    static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 100 && key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"): true
            default: false
            }
        }
    }

    func validate(_ request: TriggerRequest) throws {
        guard Self.isValidKey(request.templateKey) else { throw ParleyError.invalidField("template", Self.keyPattern) }
        guard Self.isValidKey(request.category) else { throw ParleyError.invalidField("category", Self.keyPattern) }
        switch request.recipients {
        case .users(let list):
            guard !list.isEmpty else { throw ParleyError.invalidField("recipients", "at least one user id") }
            guard list.count <= settings.maxExplicitRecipients else {
                throw ParleyError.invalidField("recipients", "at most \(settings.maxExplicitRecipients) user ids; use a topic or 'all'")
            }
        case .topic(let topic):
            guard Self.isValidKey(topic) else { throw ParleyError.invalidField("recipients.topic", Self.keyPattern) }
        case .all:
            break
        }
        let size = try JSONValue.object(request.data).jsonText().utf8.count
        guard size <= settings.maxDataBytes else { throw ParleyError.fieldTooLong("data", limit: settings.maxDataBytes) }
        if let dedup = request.dedup {
            guard !dedup.key.isEmpty, dedup.key.utf8.count <= 200 else { throw ParleyError.invalidField("dedup_key", "1 to 200 bytes") }
            guard dedup.window >= 1, dedup.window <= settings.maxWindow else {
                throw ParleyError.invalidField("dedup_window_seconds", "between 1 and \(Int(settings.maxWindow))")
            }
        }
        if let digest = request.digest {
            guard !digest.key.isEmpty, digest.key.utf8.count <= 200 else { throw ParleyError.invalidField("digest.key", "1 to 200 bytes") }
            guard digest.window >= 1, digest.window <= settings.maxWindow else {
                throw ParleyError.invalidField("digest.window_seconds", "between 1 and \(Int(settings.maxWindow))")
            }
            guard case .users = request.recipients else { throw ParleyError.invalidField("digest", "digests need explicit user recipients") }
            guard request.sendAt == nil else { throw ParleyError.invalidField("digest", "a digest cannot also have send_at") }
        }
        if let sendAt = request.sendAt, sendAt.timeIntervalSince(clock.now()) > 366 * 86_400 {
            throw ParleyError.invalidField("send_at", "at most a year ahead")
        }
    }

    /// Renders every (channel, locale) variant: `{channel: {locale: {field: text}}}`.
    func render(_ templates: [NotificationTemplate], data: [String: JSONValue]) throws(ParleyError) -> JSONValue {
        var rendered: [String: JSONValue] = [:]
        for template in templates {
            var fields: [String: JSONValue] = [:]
            for (field, text) in template.fields.sorted(by: { $0.key < $1.key }) {
                let output = try TemplateRenderer.render(text, html: template.channel.isHTML(field), data: data) { name in
                    ParleyError.missingVariable(name, template: template.key, channel: template.channel.rawValue, locale: template.locale,
                                                field: field)
                }
                if field == "action_url" {
                    let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
                    if trimmed.isEmpty { continue }
                    guard Self.isAcceptableActionURL(trimmed) else { throw ParleyError.invalidActionURL(trimmed) }
                    fields[field] = .string(trimmed)
                } else {
                    fields[field] = .string(output)
                }
            }
            var channel = rendered[template.channel.rawValue]?.objectValue ?? [:]
            channel[template.locale] = .object(fields)
            rendered[template.channel.rawValue] = .object(channel)
        }
        return .object(rendered)
    }

    static func isAcceptableActionURL(_ url: String) -> Bool {
        guard url.utf8.count <= 2048 else { return false }
        if url.hasPrefix("/") && !url.hasPrefix("//") { return true }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased() else { return false }
        return (scheme == "https" || scheme == "http") && parsed.host != nil
    }

    /// The content of `channel` for a user's locale, following the fallback chain; nil when the key has no such channel.
    func content(_ rendered: JSONValue, channel: NotificationChannelKind, locale: String?) -> (locale: String, fields: [String: String])? {
        guard let variants = rendered[channel.rawValue]?.objectValue, !variants.isEmpty else { return nil }
        for candidate in TemplateRenderer.fallbackChain(for: locale, defaultLocale: settings.defaultLocale) {
            if let fields = variants[candidate]?.objectValue { return (candidate, fields.compactMapValues(\.stringValue)) }
        }
        // No variant in the chain, not even the default locale: any variant beats none.
        guard let first = variants.keys.sorted().first, let fields = variants[first]?.objectValue else { return nil }
        return (first, fields.compactMapValues(\.stringValue))
    }

    /// What a digest's template sees: the newest event's fields at the top, `count`, `others_count` and `events`.
    static func digestData(_ events: [[String: JSONValue]]) -> [String: JSONValue] {
        var data = events.last ?? [:]
        data["count"] = .int(events.count)
        data["others_count"] = .int(max(0, events.count - 1))
        data["events"] = .array(events.map { .object($0) })
        return data
    }

    /// A stable digest of the request, to tell a replay from a different request under the same key.
    static func hash(_ request: TriggerRequest) throws -> String {
        let canonical: JSONValue = [
            "template": .string(request.templateKey), "recipients": request.recipients.json, "data": .object(request.data),
            "category": .string(request.category), "priority": .string(request.priority.rawValue),
            "dedup": request.dedup.map { ["key": .string($0.key), "window": .double($0.window)] } ?? .null,
            "digest": request.digest.map { ["key": .string($0.key), "window": .double($0.window)] } ?? .null,
            "send_at": request.sendAt.map { .int(Int($0.unixMilliseconds)) } ?? .null,
        ]
        return WebhookSignature.hmacHex(body: Data(try canonical.jsonText().utf8), secret: "parley-notifications-idempotency", timestamp: 0)
    }
}
