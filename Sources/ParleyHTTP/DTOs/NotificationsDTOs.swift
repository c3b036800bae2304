import Foundation
import Notifications
import ParleyCore

/// The wire shapes of notifications, shared by the REST API, the SSE stream and the WebSocket frames
/// (`notification`, and `badge` under `notifications`). Optional fields are `null`, never omitted.
public enum NotificationsWire {
    public static func entry(_ entry: InboxEntry, clickURL: String?) -> JSONValue {
        .object([
            "id": .string(entry.notificationID),
            "template": .string(entry.templateKey),
            "category": .string(entry.category),
            "priority": .string(entry.priority.rawValue),
            "title": .string(entry.title),
            "body": .string(entry.body),
            "action_url": entry.actionURL.map { .string($0) } ?? .null,
            "click_url": entry.actionURL == nil ? .null : clickURL.map { .string($0) } ?? .null,
            "data": .object(entry.data),
            "digest_count": entry.digestCount.map { .int($0) } ?? .null,
            "position": .string(entry.position),
            "visible_at": .string(Timestamp.format(entry.visibleAt)),
            "created_at": .string(Timestamp.format(entry.createdAt)),
            "seen_at": date(entry.seenAt),
            "read_at": date(entry.readAt),
            "archived_at": date(entry.archivedAt),
            "clicked_at": date(entry.clickedAt),
            "snoozed_until": date(entry.snoozedUntil),
        ])
    }

    /// An entry with its tracked link for the user who owns it.
    public static func entry(_ entry: InboxEntry, user: UserID, service: NotificationService) -> JSONValue {
        self.entry(entry, clickURL: service.clickLink(notificationID: entry.notificationID, user: user))
    }

    public static func counts(_ counts: InboxCounts) -> JSONValue {
        .object([
            "total": .int(counts.total), "unread": .int(counts.unread), "unseen": .int(counts.unseen),
            "by_category": .object(counts.byCategory.mapValues { entry in
                .object(["total": .int(entry.total), "unread": .int(entry.unread), "unseen": .int(entry.unseen)])
            }),
        ])
    }

    public static func template(_ template: NotificationTemplate) -> JSONValue {
        .object([
            "key": .string(template.key), "channel": .string(template.channel.rawValue), "locale": .string(template.locale),
            "fields": .object(template.fields.mapValues { .string($0) }),
            "created_at": .string(Timestamp.format(template.createdAt)), "updated_at": .string(Timestamp.format(template.updatedAt)),
        ])
    }

    public static func category(_ category: NotificationCategory) -> JSONValue {
        .object([
            "id": .string(category.id), "description": .string(category.description), "mandatory": .bool(category.mandatory),
            "updated_at": .string(Timestamp.format(category.updatedAt)),
        ])
    }

    public static func preferences(_ preferences: NotificationPreferences, categories: [NotificationCategory]) -> JSONValue {
        .object([
            "locale": preferences.locale.map { .string($0) } ?? .null,
            "time_zone": preferences.timeZone.map { .string($0) } ?? .null,
            "quiet_hours": preferences.quietHours.map { quiet in
                .object(["start": .string(QuietHours.format(quiet.start)), "end": .string(QuietHours.format(quiet.end))])
            } ?? .null,
            "channels": .object(preferences.channels.mapValues { switches in
                .object(Dictionary(uniqueKeysWithValues: switches.map { ($0.key.rawValue, JSONValue.bool($0.value)) }))
            }),
            "categories": .array(categories.map(category)),
        ])
    }

    public static func record(_ record: NotificationRecord) -> JSONValue {
        let recipients: JSONValue = switch record.recipients {
        case .users(let ids): .array(ids.map { .string($0.rawValue) })
        case .topic(let topic): .object(["topic": .string(topic)])
        case .all: "all"
        }
        return .object([
            "id": .string(record.id), "template": .string(record.templateKey), "category": .string(record.category),
            "priority": .string(record.priority.rawValue), "recipients": recipients, "data": .object(record.data),
            "state": .string(record.state.rawValue), "recipient_count": .int(record.recipientCount),
            "send_at": date(record.sendAt), "digest_count": record.digestCount.map { .int($0) } ?? .null,
            "created_at": .string(Timestamp.format(record.createdAt)),
        ])
    }

    public static func delivery(_ delivery: Delivery) -> JSONValue {
        .object([
            "channel": .string(delivery.channel.rawValue), "state": .string(delivery.state.rawValue),
            "reason": delivery.reason.map { .string($0) } ?? .null, "attempts": .int(delivery.attempts),
            "deferred_until": date(delivery.deferredUntil), "updated_at": .string(Timestamp.format(delivery.updatedAt)),
        ])
    }

    /// A push device as its owner sees it. A Web Push endpoint is shown whole (it is the browser's own
    /// subscription); the keys are not echoed back.
    public static func device(_ device: PushDevice) -> JSONValue {
        .object([
            "id": .string(device.id), "platform": .string(device.platform.rawValue), "token": .string(device.token),
            "app_id": device.appID.map { .string($0) } ?? .null, "sandbox": .bool(device.sandbox),
            "locale": device.locale.map { .string($0) } ?? .null, "created_at": .string(Timestamp.format(device.createdAt)),
            "last_used_at": date(device.lastUsedAt),
        ])
    }

    static func date(_ date: Date?) -> JSONValue {
        date.map { .string(Timestamp.format($0)) } ?? .null
    }
}
