import Events
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Per-user settings (locale, time zone, quiet hours), category × channel switches, and topic subscriptions.
extension NotificationService {
    public func preferences(of user: UserID) async throws -> NotificationPreferences {
        var preferences = NotificationPreferences()
        if let row = try await database.sql.raw("SELECT * FROM notifications_user_settings WHERE user_id = \(bind: user.rawValue)").first() {
            preferences.locale = try row.decodeOptional("locale", as: String.self)
            preferences.timeZone = try row.decodeOptional("time_zone", as: String.self)
            preferences.quietHours = try Self.decodeSettings(row).quietHours
        }
        let rows = try await database.sql.raw("""
            SELECT category, channel, enabled FROM notifications_preferences WHERE user_id = \(bind: user.rawValue) ORDER BY category, channel
            """).all()
        for row in rows {
            guard let channel = NotificationChannelKind(rawValue: try row.decode(column: "channel", as: String.self)) else { continue }
            preferences.channels[try row.decode(column: "category", as: String.self), default: [:]][channel] = try row.decode(column: "enabled", as: Bool.self)
        }
        return preferences
    }

    /// Replaces a user's preferences. Throws `notifications.mandatory_category` when a switch would turn a
    /// mandatory category off, `notifications.category_not_found`, and `request.invalid_field` for a bad
    /// locale or time zone (an IANA name such as `Europe/Paris`).
    public func setPreferences(_ preferences: NotificationPreferences, of user: UserID) async throws -> NotificationPreferences {
        let locale = try preferences.locale.map { locale throws(ParleyError) in try TemplateRenderer.validateLocale(locale) }
        if let zone = preferences.timeZone {
            guard zone.utf8.count <= 100, TimeZone(identifier: zone) != nil else {
                throw ParleyError.invalidField("time_zone", "an IANA time zone name such as 'Europe/Paris'")
            }
        }
        guard preferences.channels.count <= 200 else { throw ParleyError.invalidField("channels", "at most 200 categories") }
        let categories = Dictionary(uniqueKeysWithValues: try await categories().map { ($0.id, $0) })
        for (name, switches) in preferences.channels {
            guard let category = categories[name] else { throw ParleyError.categoryNotFound(name) }
            if category.mandatory, let off = switches.first(where: { !$0.value })?.key {
                throw ParleyError.mandatoryCategory(name, channel: off.rawValue)
            }
        }
        let now = clock.now().unixMilliseconds
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO notifications_user_settings (user_id, locale, time_zone, quiet_start, quiet_end, updated_at)
                VALUES (\(bind: user.rawValue), \(bind: locale), \(bind: preferences.timeZone), \(bind: preferences.quietHours?.start),
                    \(bind: preferences.quietHours?.end), \(bind: now))
                ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale, time_zone = excluded.time_zone,
                    quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, updated_at = excluded.updated_at
                """).run()
            try await sql.raw("DELETE FROM notifications_preferences WHERE user_id = \(bind: user.rawValue)").run()
            let values: [SQLQueryString] = preferences.channels.sorted(by: { $0.key < $1.key }).flatMap { category, switches in
                switches.sorted(by: { $0.key.rawValue < $1.key.rawValue }).map { channel, enabled -> SQLQueryString in
                    "(\(bind: user.rawValue), \(bind: category), \(bind: channel.rawValue), \(bind: enabled), \(bind: now))"
                }
            }
            if !values.isEmpty {
                try await sql.raw("""
                    INSERT INTO notifications_preferences (user_id, category, channel, enabled, updated_at) VALUES \(values.joined(separator: ", "))
                    """).run()
            }
        }
        return try await self.preferences(of: user)
    }

    // MARK: Topics

    public func subscribe(_ users: [UserID], to topic: String) async throws {
        guard Self.isValidKey(topic) else { throw ParleyError.invalidField("topic", Self.keyPattern) }
        guard users.count <= 1000 else { throw ParleyError.invalidField("user_ids", "at most 1000 per call") }
        let now = clock.now().unixMilliseconds
        try await database.transaction { sql in
            for chunk in users.chunked(into: 500) where !chunk.isEmpty {
                let values = chunk.map { user -> SQLQueryString in "(\(bind: topic), \(bind: user.rawValue), \(bind: now))" }
                try await sql.raw("""
                    INSERT INTO notifications_topic_subscriptions (topic, user_id, created_at) VALUES \(values.joined(separator: ", "))
                    ON CONFLICT (topic, user_id) DO NOTHING
                    """).run()
            }
        }
    }

    public func unsubscribe(_ users: [UserID], from topic: String) async throws {
        guard Self.isValidKey(topic) else { throw ParleyError.invalidField("topic", Self.keyPattern) }
        try await database.transaction { sql in
            for chunk in users.chunked(into: 500) where !chunk.isEmpty {
                try await sql.raw("""
                    DELETE FROM notifications_topic_subscriptions WHERE topic = \(bind: topic)
                        AND user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                    """).run()
            }
        }
    }

    /// The topics a user is subscribed to, by name (at most 1000).
    public func topics(of user: UserID) async throws -> [String] {
        try await database.sql.raw("""
            SELECT topic FROM notifications_topic_subscriptions WHERE user_id = \(bind: user.rawValue) ORDER BY topic LIMIT 1000
            """).all().map { try $0.decode(column: "topic", as: String.self) }
    }
}
