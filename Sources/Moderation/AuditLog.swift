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

    public init(database: Database, ids: any IDGenerator) {
        self.database = database
        self.ids = ids
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
        return entry
    }

    /// Appends one line outside any transaction.
    @discardableResult
    public func record(actor: String, action: String, subject: String, reason: String, details: [String: JSONValue] = [:],
                       at now: Date) async throws -> AuditEntry {
        try await record(actor: actor, action: action, subject: subject, reason: reason, details: details, at: now, on: database.sql)
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
