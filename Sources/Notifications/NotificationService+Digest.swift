import Events
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Digests: triggers with the same (template, recipient, digest key) inside a window become one notification.
///
/// The first trigger opens a digest row, unique on `open_key` while open, and schedules its flush job at the
/// window's end; later triggers add their events to it. The flush closes the digest and creates the
/// notification in one transaction, so concurrent triggers all land in exactly one digest, an event that
/// races the flush either makes it in or opens the next digest, and a retried flush finds the digest
/// closed and does nothing.
extension NotificationService {
    func appendToDigest(trigger: String, user: UserID, request: TriggerRequest, digest: DigestSpec, category: String, now: Date,
                        on sql: any SQLDatabase) async throws {
        let openKey = "\(request.templateKey)|\(user.rawValue)|\(digest.key)"
        let data = try JSONValue.object(request.data).jsonText()
        for _ in 0..<5 {
            let candidate = ids.next(prefix: "dg_")
            let windowEnd = now.addingTimeInterval(digest.window)
            let opened = try await sql.raw("""
                INSERT INTO notifications_digests (id, open_key, template_key, user_id, digest_key, category, priority, window_end, state, created_at)
                VALUES (\(bind: candidate), \(bind: openKey), \(bind: request.templateKey), \(bind: user.rawValue), \(bind: digest.key),
                    \(bind: category), \(bind: request.priority.rawValue), \(bind: windowEnd.unixMilliseconds), 'open', \(bind: now.unixMilliseconds))
                ON CONFLICT (open_key) DO NOTHING RETURNING id
                """).all()
            var digestID: String?
            if !opened.isEmpty {
                digestID = candidate
                try await jobs.enqueue([NewJob(kind: Self.digestJobKind, payload: ["digest_id": .string(candidate)], runAt: windowEnd,
                                               uniqueKey: "ndig:\(candidate)")], on: sql)
            } else {
                // Lock the open digest so a flush cannot close it under this event; if a flush closed it first, open the next one.
                digestID = try await sql.raw("""
                    SELECT id FROM notifications_digests WHERE open_key = \(bind: openKey)\(unsafeRaw: database.engine.forUpdate)
                    """).first()?.decode(column: "id", as: String.self)
            }
            guard let digestID else { continue }
            try await sql.raw("""
                INSERT INTO notifications_digest_events (digest_id, trigger_id, data, created_at)
                VALUES (\(bind: digestID), \(bind: trigger), \(bind: data), \(bind: now.unixMilliseconds))
                ON CONFLICT (digest_id, trigger_id) DO NOTHING
                """).run()
            return
        }
        throw ParleyError(.unavailable, code: "notifications.digest_busy", message: "The digest is being flushed; retry.", retryAfter: 1)
    }

    /// Closes a digest and turns its events into one notification for its recipient. Does nothing when the
    /// digest is already closed (a retried job). Returns the new notification's id.
    @discardableResult
    public func flushDigest(_ digestID: String) async throws -> String? {
        let now = clock.now()
        // Read the templates outside the transaction; the events are read inside it, after the lock.
        guard let head = try await database.sql.raw("SELECT template_key, state FROM notifications_digests WHERE id = \(bind: digestID)").first(),
              try head.decode(column: "state", as: String.self) == "open" else { return nil }
        let templates = try await templates(key: try head.decode(column: "template_key", as: String.self))
        let notificationID = ids.next(prefix: "n_")
        return try await database.transaction { sql -> String? in
            guard let row = try await sql.raw("""
                SELECT * FROM notifications_digests WHERE id = \(bind: digestID)\(unsafeRaw: database.engine.forUpdate)
                """).first(), try row.decode(column: "state", as: String.self) == "open" else { return nil }
            try await sql.raw("""
                UPDATE notifications_digests SET state = 'closed', open_key = NULL, notification_id = \(bind: notificationID)
                WHERE id = \(bind: digestID)
                """).run()
            let events = try await sql.raw("""
                SELECT data FROM notifications_digest_events WHERE digest_id = \(bind: digestID) ORDER BY created_at, trigger_id
                """).all().map { try $0.decodeJSON("data").objectValue ?? [:] }
            guard !events.isEmpty else { return nil }
            let user = UserID(trusted: try row.decode(column: "user_id", as: String.self))
            let data = Self.digestData(events)
            let rendered = try render(templates, data: data)
            let record = NotificationRecord(
                id: notificationID, templateKey: try row.decode(column: "template_key", as: String.self),
                category: try row.decode(column: "category", as: String.self),
                priority: NotificationPriority(rawValue: try row.decode(column: "priority", as: String.self)) ?? .normal,
                recipients: .users([user]), data: data, state: .sent, recipientCount: 0, sendAt: nil, digestCount: events.count, createdAt: now
            )
            try await insert(record, rendered: rendered, actor: "system", digestID: digestID, on: sql)
            let reached = try await deliver(record, rendered: rendered, to: [user], now: now, on: sql)
            try await sql.raw("UPDATE notifications_notifications SET recipient_count = \(bind: reached) WHERE id = \(bind: notificationID)").run()
            return notificationID
        }
    }
}
