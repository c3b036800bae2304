import Events
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Templates and categories: what the platform's admins manage.
extension NotificationService {
    // MARK: Templates

    /// Creates or replaces one template variant. Fields must belong to the channel and parse as Mustache.
    public func putTemplate(key: String, channel: NotificationChannelKind, locale: String, fields: [String: String]) async throws
        -> NotificationTemplate {
        guard Self.isValidKey(key) else { throw ParleyError.invalidField("template_key", Self.keyPattern) }
        let locale = try TemplateRenderer.validateLocale(locale)
        for field in fields.keys.sorted() where !channel.fields.contains(field) {
            throw ParleyError.unknownField(field)
        }
        for field in channel.requiredFields where (fields[field] ?? "").isEmpty {
            throw ParleyError.missingField(field)
        }
        if channel == .email, (fields["html"] ?? "").isEmpty, (fields["text"] ?? "").isEmpty {
            throw ParleyError.missingField("text")
        }
        for (field, text) in fields { try TemplateRenderer.validate(text, field: field) }
        let now = clock.now()
        let text = try JSONValue.object(fields.mapValues { .string($0) }).jsonText()
        let created = try await database.transaction { sql -> Date in
            let existing = try await sql.raw("""
                SELECT created_at FROM notifications_templates
                WHERE template_key = \(bind: key) AND channel = \(bind: channel.rawValue) AND locale = \(bind: locale)
                """).first()
            try await sql.raw("""
                INSERT INTO notifications_templates (template_key, channel, locale, fields, created_at, updated_at)
                VALUES (\(bind: key), \(bind: channel.rawValue), \(bind: locale), \(bind: text), \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds))
                ON CONFLICT (template_key, channel, locale) DO UPDATE SET fields = excluded.fields, updated_at = excluded.updated_at
                """).run()
            return try existing?.decodeDate("created_at") ?? now
        }
        return NotificationTemplate(key: key, channel: channel, locale: locale, fields: fields, createdAt: created, updatedAt: now)
    }

    /// Every variant of a key (all keys when nil), ordered by key, channel, locale.
    public func templates(key: String? = nil) async throws -> [NotificationTemplate] {
        let rows: [any SQLRow]
        if let key {
            rows = try await database.sql.raw("""
                SELECT * FROM notifications_templates WHERE template_key = \(bind: key) ORDER BY template_key, channel, locale
                """).all()
        } else {
            rows = try await database.sql.raw("SELECT * FROM notifications_templates ORDER BY template_key, channel, locale LIMIT 5000").all()
        }
        return try rows.map(Self.decodeTemplate)
    }

    public func template(key: String, channel: NotificationChannelKind, locale: String) async throws -> NotificationTemplate {
        let locale = TemplateRenderer.normalize(locale)
        guard let row = try await database.sql.raw("""
            SELECT * FROM notifications_templates WHERE template_key = \(bind: key) AND channel = \(bind: channel.rawValue) AND locale = \(bind: locale)
            """).first() else { throw ParleyError.templateVariantNotFound(key, channel: channel.rawValue, locale: locale) }
        return try Self.decodeTemplate(row)
    }

    public func deleteTemplate(key: String, channel: NotificationChannelKind, locale: String) async throws {
        let locale = TemplateRenderer.normalize(locale)
        let deleted = try await database.transaction { sql in
            try await sql.raw("""
                DELETE FROM notifications_templates WHERE template_key = \(bind: key) AND channel = \(bind: channel.rawValue)
                    AND locale = \(bind: locale) RETURNING template_key
                """).all().count
        }
        guard deleted > 0 else { throw ParleyError.templateVariantNotFound(key, channel: channel.rawValue, locale: locale) }
    }

    static func decodeTemplate(_ row: any SQLRow) throws -> NotificationTemplate {
        NotificationTemplate(
            key: try row.decode(column: "template_key", as: String.self),
            channel: NotificationChannelKind(rawValue: try row.decode(column: "channel", as: String.self)) ?? .inApp,
            locale: try row.decode(column: "locale", as: String.self),
            fields: try row.decodeJSON("fields").objectValue?.compactMapValues(\.stringValue) ?? [:],
            createdAt: try row.decodeDate("created_at"), updatedAt: try row.decodeDate("updated_at")
        )
    }

    // MARK: Categories

    public func putCategory(_ id: String, description: String, mandatory: Bool) async throws -> NotificationCategory {
        guard Self.isValidKey(id) else { throw ParleyError.invalidField("category", Self.keyPattern) }
        guard description.count <= 500 else { throw ParleyError.fieldTooLong("description", limit: 500) }
        let now = clock.now()
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO notifications_categories (id, description, mandatory, created_at, updated_at)
                VALUES (\(bind: id), \(bind: description), \(bind: mandatory), \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds))
                ON CONFLICT (id) DO UPDATE SET description = excluded.description, mandatory = excluded.mandatory, updated_at = excluded.updated_at
                """).run()
        }
        return try await category(id)
    }

    public func categories() async throws -> [NotificationCategory] {
        var list = try await database.sql.raw("SELECT * FROM notifications_categories ORDER BY id").all().map(Self.decodeCategory)
        if !list.contains(where: { $0.id == settings.defaultCategory }) { list.append(defaultCategory) }
        return list.sorted { $0.id < $1.id }
    }

    /// A category; the default category always exists. Throws `notifications.category_not_found`.
    public func category(_ id: String) async throws -> NotificationCategory {
        try await category(id, on: database.sql)
    }

    func category(_ id: String, on sql: any SQLDatabase) async throws -> NotificationCategory {
        if let row = try await sql.raw("SELECT * FROM notifications_categories WHERE id = \(bind: id)").first() {
            return try Self.decodeCategory(row)
        }
        guard id == settings.defaultCategory else { throw ParleyError.categoryNotFound(id) }
        return defaultCategory
    }

    var defaultCategory: NotificationCategory {
        NotificationCategory(id: settings.defaultCategory, description: "", mandatory: false, createdAt: Date(unixMilliseconds: 0),
                             updatedAt: Date(unixMilliseconds: 0))
    }

    public func deleteCategory(_ id: String) async throws {
        guard id != settings.defaultCategory else { throw ParleyError.categoryInUse(id) }
        let deleted = try await database.transaction { sql in
            try await sql.raw("DELETE FROM notifications_categories WHERE id = \(bind: id) RETURNING id").all().count
        }
        guard deleted > 0 else { throw ParleyError.categoryNotFound(id) }
    }

    static func decodeCategory(_ row: any SQLRow) throws -> NotificationCategory {
        NotificationCategory(
            id: try row.decode(column: "id", as: String.self), description: try row.decode(column: "description", as: String.self),
            mandatory: try row.decode(column: "mandatory", as: Bool.self), createdAt: try row.decodeDate("created_at"),
            updatedAt: try row.decodeDate("updated_at")
        )
    }

    /// A notification as the platform sees it (for the admin API).
    public func record(_ id: String) async throws -> NotificationRecord {
        guard let (record, _) = try await notification(id) else { throw ParleyError.notificationNotFound(id) }
        return record
    }
}
