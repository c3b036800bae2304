import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Admin-edited overrides of per-user rate limits, for a role or a user. Edits are audited.
public struct RateLimitOverrideStore: Sendable {
    let database: Database
    let audit: AuditLog

    public init(database: Database, audit: AuditLog) {
        self.database = database
        self.audit = audit
    }

    /// Creates or replaces the override of `action` for a role or user.
    public func set(_ override: RateLimitOverride) async throws {
        let limit = try override.limit.validated()
        if override.scope == .role, Role(rawValue: override.target) == nil {
            throw ParleyError.invalidField("target", "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if override.scope == .user { _ = try UserID(validating: override.target) }
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO moderation_rate_overrides (action, scope, target, count, period_ms, burst, updated_by, updated_at)
                VALUES (\(bind: override.action.rawValue), \(bind: override.scope.rawValue), \(bind: override.target), \(bind: limit.count),
                \(bind: Int64((limit.period * 1000).rounded())), \(bind: limit.burst), \(bind: override.updatedBy),
                \(bind: override.updatedAt.unixMilliseconds))
                ON CONFLICT (action, scope, target) DO UPDATE SET count = excluded.count, period_ms = excluded.period_ms,
                burst = excluded.burst, updated_by = excluded.updated_by, updated_at = excluded.updated_at
                """).run()
            try await audit.record(actor: override.updatedBy, action: "rate_limit.override_set",
                                   subject: "rate_limit:\(override.action.rawValue):\(override.scope.rawValue):\(override.target)", reason: "",
                                   details: ["count": .int(limit.count), "period_seconds": .double(limit.period), "burst": .int(limit.burst)],
                                   at: override.updatedAt, on: sql)
        }
    }

    /// Removes an override; returns whether there was one.
    @discardableResult
    public func remove(action: RateLimitedAction, scope: RateLimitOverride.Scope, target: String, by actor: String, at now: Date) async throws -> Bool {
        try await database.transaction { sql in
            let existing = try await sql.raw("""
                SELECT target FROM moderation_rate_overrides WHERE action = \(bind: action.rawValue) AND scope = \(bind: scope.rawValue)
                AND target = \(bind: target)
                """).first()
            guard existing != nil else { return false }
            try await sql.raw("""
                DELETE FROM moderation_rate_overrides WHERE action = \(bind: action.rawValue) AND scope = \(bind: scope.rawValue)
                AND target = \(bind: target)
                """).run()
            try await audit.record(actor: actor, action: "rate_limit.override_removed",
                                   subject: "rate_limit:\(action.rawValue):\(scope.rawValue):\(target)", reason: "", at: now, on: sql)
            return true
        }
    }

    /// Every override, by action, scope and target.
    public func all() async throws -> [RateLimitOverride] {
        try await database.sql.raw("SELECT * FROM moderation_rate_overrides ORDER BY action, scope, target").all().compactMap { row in
            guard let action = RateLimitedAction(rawValue: try row.decode(column: "action", as: String.self)),
                  let scope = RateLimitOverride.Scope(rawValue: try row.decode(column: "scope", as: String.self)) else { return nil }
            return RateLimitOverride(
                action: action, scope: scope, target: try row.decode(column: "target", as: String.self),
                limit: RateLimit(count: Int(try row.decode(column: "count", as: Int64.self)),
                                 per: Double(try row.decode(column: "period_ms", as: Int64.self)) / 1000,
                                 burst: Int(try row.decode(column: "burst", as: Int64.self))),
                updatedBy: try row.decode(column: "updated_by", as: String.self), updatedAt: try row.decodeDate("updated_at")
            )
        }
    }
}
