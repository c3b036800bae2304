import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The append-only audit log of every automated and human moderation action.
///
/// Rows are only ever inserted. `record(..., on:)` writes inside the caller's transaction, so an action and
/// its audit line commit together. Queries page newest first by the log's position.
public struct AuditLog: Sendable {
    let database: Database
    let ids: any IDGenerator
    /// When set, the actions other contexts care about (filter hits, reports, sanctions) also become events
    /// in the log, in the same transaction: analytics counts them from there.
    let outbox: (any EventOutbox)?

    public init(database: Database, ids: any IDGenerator, outbox: (any EventOutbox)? = nil) {
        self.database = database
        self.ids = ids
        self.outbox = outbox
    }

    /// Appends one line on `sql` (the caller's transaction, or a plain connection).
    @discardableResult
    public func record(actor: String, action: String, subject: String, reason: String, details: [String: JSONValue] = [:],
                       at now: Date, on sql: any SQLDatabase) async throws -> AuditEntry {
        let entry = AuditEntry(id: ids.next(prefix: "au_"), actor: actor, action: action, subject: subject, reason: reason,
                               details: details, at: now)
        try await sql.raw("""
            INSERT INTO moderation_audit (id, at, actor, action, subject, reason, details)
            VALUES (\(bind: entry.id), \(bind: now.unixMilliseconds), \(bind: actor), \(bind: action), \(bind: subject),
            \(bind: reason), \(bind: try JSONValue.object(details).jsonText()))
            """).run()
        if let outbox, let event = Self.event(for: entry) { try await outbox.append(event, on: sql) }
        return entry
    }

    /// Appends one line in a transaction of its own.
    @discardableResult
    public func record(actor: String, action: String, subject: String, reason: String, details: [String: JSONValue] = [:],
                       at now: Date) async throws -> AuditEntry {
        try await database.transaction { sql in
            try await record(actor: actor, action: action, subject: subject, reason: reason, details: details, at: now, on: sql)
        }
    }

    /// The event an audit line stands for, if other contexts care about it.
    static func event(for entry: AuditEntry) -> NewEvent? {
        let userID = entry.subject.hasPrefix("user:") ? String(entry.subject.dropFirst("user:".count)) : nil
        let type: String
        var payload: [String: JSONValue] = ["audit_id": .string(entry.id), "reason": .string(entry.reason)]
        var actor = entry.actor
        switch entry.action {
        case "rewrite" where entry.actor == automatedActor, "reject" where entry.actor == automatedActor,
             "hold" where entry.actor == automatedActor:
            // An automated check acted on someone's content: a filter (or flood) hit, attributed to the author.
            type = "moderation.filter_hit"
            actor = entry.subject
            payload["action"] = .string(entry.action)
            payload["category"] = entry.details["category"] ?? entry.details["check"] ?? entry.details["screen"] ?? .string(entry.reason)
            payload["content_kind"] = entry.details["kind"] ?? .null
        case "report":
            type = "moderation.report_opened"
            payload["report_id"] = .string(entry.subject)
            payload["category"] = .string(entry.reason)
        case let action where action.hasPrefix("case."):
            type = "moderation.report_resolved"
            payload["report_id"] = .string(entry.subject)
            payload["resolution"] = .string(String(action.dropFirst("case.".count)))
        case "sanction.mute", "sanction.suspend", "sanction.ban":
            type = ["sanction.mute": "moderation.muted", "sanction.suspend": "moderation.suspended"][entry.action] ?? "moderation.banned"
            // What the sanctioned user's notice and the gateway (which closes a suspended user's connections) need.
            payload["kind"] = .string(String(entry.action.dropFirst("sanction.".count)))
            for key in ["sanction_id", "until", "conversation_id", "case_id"] { if let value = entry.details[key] { payload[key] = value } }
        default:
            return nil
        }
        if let userID { payload["user_id"] = .string(userID) }
        return NewEvent(type: type, actor: actor, subject: entry.subject, payload: .object(payload), occurredAt: entry.at)
    }

    /// Lines about `subject` (`user:alice`, `message:m_1`, ...), newest first.
    public func entries(subject: String, page: PageRequest) async throws -> Page<AuditEntry> {
        try await entries(column: "subject", value: subject, page: page)
    }

    /// Lines written by `actor` (`user:mod1`, `system:moderation`), newest first.
    public func entries(actor: String, page: PageRequest) async throws -> Page<AuditEntry> {
        try await entries(column: "actor", value: actor, page: page)
    }

    private func entries(column: String, value: String, page: PageRequest) async throws -> Page<AuditEntry> {
        let before: Int64
        if let cursor = page.cursor {
            guard let position = Int64(try Cursor.decode(cursor)) else { throw ParleyError.invalidCursor() }
            before = position
        } else {
            before = Int64.max
        }
        let rows = try await database.sql.raw("""
            SELECT * FROM moderation_audit WHERE \(ident: column) = \(bind: value) AND position < \(bind: before)
            ORDER BY position DESC LIMIT \(bind: page.limit + 1)
            """).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit, position: { String($0.position) })
    }

    static func decode(_ row: any SQLRow) throws -> AuditEntry {
        AuditEntry(
            position: try row.decode(column: "position", as: Int64.self),
            id: try row.decode(column: "id", as: String.self),
            actor: try row.decode(column: "actor", as: String.self),
            action: try row.decode(column: "action", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            reason: try row.decode(column: "reason", as: String.self),
            details: try row.decodeJSON("details").objectValue ?? [:],
            at: try row.decodeDate("at")
        )
    }
}
