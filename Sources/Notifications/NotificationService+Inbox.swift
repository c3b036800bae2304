import Events
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The in-app inbox: one row per (user, notification), rendered in the user's locale when read.
extension NotificationService {
    /// The user's inbox, newest first, with a cursor. Snoozed entries are hidden until their time comes.
    public func inbox(of user: UserID, filter: InboxFilter = InboxFilter(), page: PageRequest) async throws -> Page<InboxEntry> {
        let now = clock.now().unixMilliseconds
        var conditions: [SQLQueryString] = ["i.user_id = \(bind: user.rawValue)", "i.visible_at <= \(bind: now)"]
        if filter.unreadOnly { conditions.append("i.read_at IS NULL") }
        if let category = filter.category { conditions.append("i.category = \(bind: category)") }
        switch filter.archived {
        case .exclude: conditions.append("i.archived_at IS NULL")
        case .only: conditions.append("i.archived_at IS NOT NULL")
        case .include: break
        }
        if let cursor = page.cursor {
            guard let position = InboxPosition(text: try Cursor.decode(cursor)) else { throw ParleyError.invalidCursor() }
            let at = position.visibleAt.unixMilliseconds
            conditions.append("(i.visible_at < \(bind: at) OR (i.visible_at = \(bind: at) AND i.notification_id < \(bind: position.notificationID)))")
        }
        let rows = try await database.sql.raw("""
            SELECT i.*, n.template_key, n.priority, n.rendered, n.data, n.digest_count FROM notifications_inbox i
            JOIN notifications_notifications n ON n.id = i.notification_id
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY i.visible_at DESC, i.notification_id DESC LIMIT \(bind: page.limit + 1)
            """).all()
        let locale = try await settings(of: [user], on: database.sql)[user]?.locale
        return Page(fetched: try rows.map { try entry($0, locale: locale) }, limit: page.limit, position: \.position)
    }

    /// Entries that became visible after `position` (an SSE `Last-Event-ID`), oldest first, at most `limit`.
    public func inbox(of user: UserID, after position: String, limit: Int) async throws -> [InboxEntry] {
        guard let after = InboxPosition(text: position) else { return [] }
        let now = clock.now().unixMilliseconds
        let at = after.visibleAt.unixMilliseconds
        let rows = try await database.sql.raw("""
            SELECT i.*, n.template_key, n.priority, n.rendered, n.data, n.digest_count FROM notifications_inbox i
            JOIN notifications_notifications n ON n.id = i.notification_id
            WHERE i.user_id = \(bind: user.rawValue) AND i.visible_at <= \(bind: now) AND i.archived_at IS NULL
                AND (i.visible_at > \(bind: at) OR (i.visible_at = \(bind: at) AND i.notification_id > \(bind: after.notificationID)))
            ORDER BY i.visible_at, i.notification_id LIMIT \(bind: limit)
            """).all()
        let locale = try await settings(of: [user], on: database.sql)[user]?.locale
        return try rows.map { try entry($0, locale: locale) }
    }

    /// One entry of the user's inbox; throws `notifications.notification_not_found` when it is not theirs.
    public func inboxEntry(of user: UserID, notificationID: String) async throws -> InboxEntry {
        guard let row = try await database.sql.raw("""
            SELECT i.*, n.template_key, n.priority, n.rendered, n.data, n.digest_count FROM notifications_inbox i
            JOIN notifications_notifications n ON n.id = i.notification_id
            WHERE i.user_id = \(bind: user.rawValue) AND i.notification_id = \(bind: notificationID)
            """).first() else { throw ParleyError.notificationNotFound(notificationID) }
        let locale = try await settings(of: [user], on: database.sql)[user]?.locale
        return try entry(row, locale: locale)
    }

    func entry(_ row: any SQLRow, locale: String?) throws -> InboxEntry {
        let rendered = try row.decodeJSON("rendered")
        let fields = content(rendered, channel: .inApp, locale: locale)?.fields ?? [:]
        return InboxEntry(
            notificationID: try row.decode(column: "notification_id", as: String.self),
            templateKey: try row.decode(column: "template_key", as: String.self),
            category: try row.decode(column: "category", as: String.self),
            priority: NotificationPriority(rawValue: try row.decode(column: "priority", as: String.self)) ?? .normal,
            title: fields["title"] ?? "", body: fields["body"] ?? "", actionURL: fields["action_url"],
            data: try row.decodeJSON("data").objectValue ?? [:],
            digestCount: try row.decodeOptional("digest_count", as: Int.self),
            visibleAt: try row.decodeDate("visible_at"), createdAt: try row.decodeDate("created_at"),
            seenAt: try row.decodeOptionalDate("seen_at"), readAt: try row.decodeOptionalDate("read_at"),
            archivedAt: try row.decodeOptionalDate("archived_at"), clickedAt: try row.decodeOptionalDate("clicked_at"),
            snoozedUntil: try row.decodeOptionalDate("snoozed_until")
        )
    }

    /// Unread, unseen and total counts of the visible, unarchived inbox, overall and by category.
    public func counts(of user: UserID) async throws -> InboxCounts {
        let rows = try await database.sql.raw("""
            SELECT category, COUNT(*) AS total, SUM(CASE WHEN read_at IS NULL THEN 1 ELSE 0 END) AS unread,
                SUM(CASE WHEN seen_at IS NULL THEN 1 ELSE 0 END) AS unseen
            FROM notifications_inbox
            WHERE user_id = \(bind: user.rawValue) AND archived_at IS NULL AND visible_at <= \(bind: clock.now().unixMilliseconds)
            GROUP BY category
            """).all()
        var counts = InboxCounts(total: 0, unread: 0, unseen: 0, byCategory: [:])
        for row in rows {
            let entry = InboxCounts.PerCategory(
                total: try row.decode(column: "total", as: Int.self), unread: try row.decodeOptional("unread", as: Int.self) ?? 0,
                unseen: try row.decodeOptional("unseen", as: Int.self) ?? 0
            )
            counts.byCategory[try row.decode(column: "category", as: String.self)] = entry
            counts.total += entry.total
            counts.unread += entry.unread
            counts.unseen += entry.unseen
        }
        return counts
    }

    /// Marks one entry. Reading also marks it seen. Throws `notifications.notification_not_found`.
    public func mark(_ notificationID: String, as mark: InboxMark, user: UserID) async throws -> InboxEntry {
        let now = clock.now()
        let changed = try await database.transaction { sql -> Bool in
            let rows = try await sql.raw("""
                UPDATE notifications_inbox SET \(Self.assignment(mark, now: now))
                WHERE user_id = \(bind: user.rawValue) AND notification_id = \(bind: notificationID) RETURNING notification_id, seen_at, read_at
                """).all()
            guard !rows.isEmpty else { return false }
            try await inboxChanged(user, now: now, on: sql)
            try await recordFunnel(rows, user: user, now: now, on: sql)
            return true
        }
        guard changed else { throw ParleyError.notificationNotFound(notificationID) }
        return try await inboxEntry(of: user, notificationID: notificationID)
    }

    /// Marks every visible entry that appeared at or before `before` (default now), optionally of one category.
    /// Returns how many entries changed.
    public func markAll(as mark: InboxMark, user: UserID, before: Date? = nil, category: String? = nil) async throws -> Int {
        let now = clock.now()
        let cutoff = min(before ?? now, now)
        var conditions: [SQLQueryString] = ["user_id = \(bind: user.rawValue)", "visible_at <= \(bind: cutoff.unixMilliseconds)"]
        if let category { conditions.append("category = \(bind: category)") }
        switch mark {
        case .read: conditions.append("read_at IS NULL")
        case .seen: conditions.append("seen_at IS NULL")
        case .archived: conditions.append("archived_at IS NULL")
        case .unread: conditions.append("read_at IS NOT NULL")
        case .unarchived: conditions.append("archived_at IS NOT NULL")
        }
        let whereClause = conditions.joined(separator: " AND ")
        return try await database.transaction { sql -> Int in
            let rows = try await sql.raw("""
                UPDATE notifications_inbox SET \(Self.assignment(mark, now: now)) WHERE \(whereClause)
                RETURNING notification_id, seen_at, read_at
                """).all()
            if !rows.isEmpty {
                try await inboxChanged(user, now: now, on: sql)
                try await recordFunnel(rows, user: user, now: now, on: sql)
            }
            return rows.count
        }
    }

    /// Hides an entry until `until`; it then comes back at the top of the inbox, unread and unseen.
    public func snooze(_ notificationID: String, user: UserID, until: Date) async throws -> InboxEntry {
        let now = clock.now()
        guard until > now else { throw ParleyError.invalidField("until", "must be in the future") }
        guard until.timeIntervalSince(now) <= settings.maxWindow * 5 else {
            throw ParleyError.invalidField("until", "at most \(Int(settings.maxWindow * 5 / 86_400)) days ahead")
        }
        let changed = try await database.transaction { sql -> Bool in
            let rows = try await sql.raw("""
                UPDATE notifications_inbox SET snoozed_until = \(bind: until.unixMilliseconds), visible_at = \(bind: until.unixMilliseconds),
                    seen_at = NULL, read_at = NULL
                WHERE user_id = \(bind: user.rawValue) AND notification_id = \(bind: notificationID) AND archived_at IS NULL
                RETURNING notification_id
                """).all()
            guard !rows.isEmpty else { return false }
            try await inboxChanged(user, now: now, on: sql)
            // When it returns, the entry is pushed live again like a new one (a job, so it happens on time on any node).
            try await jobs.enqueue([NewJob(
                kind: Self.resurfaceJobKind,
                payload: ["user_id": .string(user.rawValue), "notification_id": .string(notificationID), "until": .int(Int(until.unixMilliseconds))],
                runAt: until, uniqueKey: "nsnooze:\(user.rawValue):\(notificationID):\(until.unixMilliseconds)"
            )], on: sql)
            return true
        }
        guard changed else { throw ParleyError.notificationNotFound(notificationID) }
        return try await inboxEntry(of: user, notificationID: notificationID)
    }

    /// Announces a snoozed entry whose time came (the live feed pushes it as new), unless it was snoozed again,
    /// archived or deleted meanwhile.
    public func resurface(_ notificationID: String, user: UserID, snoozedUntil: Int64) async throws {
        let now = clock.now()
        try await database.transaction { sql in
            guard try await sql.raw("""
                SELECT notification_id FROM notifications_inbox WHERE user_id = \(bind: user.rawValue)
                    AND notification_id = \(bind: notificationID) AND snoozed_until = \(bind: snoozedUntil) AND archived_at IS NULL
                """).first() != nil else { return }
            try await outbox.append(NewEvent(
                type: "notification.resurfaced", actor: "system", subject: "notification:\(notificationID)",
                payload: ["notification_id": .string(notificationID), "user_ids": .array([.string(user.rawValue)])], occurredAt: now
            ), on: sql)
        }
    }

    static func assignment(_ mark: InboxMark, now: Date) -> SQLQueryString {
        let at = now.unixMilliseconds
        switch mark {
        case .read: return "read_at = COALESCE(read_at, \(bind: at)), seen_at = COALESCE(seen_at, \(bind: at))"
        case .seen: return "seen_at = COALESCE(seen_at, \(bind: at))"
        case .archived: return "archived_at = COALESCE(archived_at, \(bind: at))"
        case .unread: return "read_at = NULL"
        case .unarchived: return "archived_at = NULL"
        }
    }

    /// Writes the funnel events (`notification.seen`, `notification.read`, `notification.clicked`) for entries an
    /// update moved into those states just now: a timestamp equal to `now` was set by this very update, since
    /// every assignment keeps an earlier time with COALESCE.
    func recordFunnel(_ rows: [any SQLRow], user: UserID, now: Date, on sql: any SQLDatabase, channel: NotificationChannelKind = .inApp)
        async throws {
        let at = now.unixMilliseconds
        for row in rows {
            let id = try row.decode(column: "notification_id", as: String.self)
            var stages: [String] = []
            if try row.decodeOptional("seen_at", as: Int64.self) == at { stages.append("seen") }
            if try row.decodeOptional("read_at", as: Int64.self) == at { stages.append("read") }
            if (try? row.decodeOptional("clicked_at", as: Int64.self)) == at { stages.append("clicked") }
            for stage in stages {
                try await outbox.append(NewEvent(
                    type: "notification.\(stage)", actor: "user:\(user.rawValue)", subject: "notification:\(id)",
                    payload: ["notification_id": .string(id), "user_id": .string(user.rawValue), "channel": .string(channel.rawValue)],
                    occurredAt: now
                ), on: sql)
            }
        }
    }

    /// Records that a user's inbox counts changed, so every node pushes a fresh badge to their connections.
    func inboxChanged(_ user: UserID, now: Date, on sql: any SQLDatabase) async throws {
        try await outbox.append(NewEvent(
            type: "notification.inbox_changed", actor: "user:\(user.rawValue)", subject: "user:\(user.rawValue)",
            payload: ["user_id": .string(user.rawValue), "live": "badge"], occurredAt: now
        ), on: sql)
    }
}
