import Foundation
import ParleyCore

/// How urgent a notification is. `critical` bypasses quiet hours (never preferences: see mandatory categories).
public enum NotificationPriority: String, Sendable, Codable, CaseIterable, Comparable {
    case low, normal, high, critical

    var rank: Int { Self.allCases.firstIndex(of: self) ?? 1 }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// The channels a template can be written for, and the fields each one has.
public enum NotificationChannelKind: String, Sendable, Codable, CaseIterable, Hashable {
    case inApp = "in_app"
    case email
    case push
    case webhook

    /// Every field the channel's template may have.
    public var fields: [String] {
        switch self {
        case .inApp, .webhook: ["title", "body", "action_url"]
        case .email: ["subject", "html", "text"]
        case .push: ["title", "body"]
        }
    }

    /// The fields a template for this channel must have (email also needs `html` or `text`).
    public var requiredFields: [String] {
        switch self {
        case .inApp, .webhook, .push: ["title", "body"]
        case .email: ["subject"]
        }
    }

    /// Fields rendered as plain text; the others (email `html`) are HTML-escaped.
    func isHTML(_ field: String) -> Bool { self == .email && field == "html" }
}

/// Who a notification is for.
public enum RecipientSpec: Sendable, Equatable {
    /// Explicit users (at most `NotificationSettings.maxExplicitRecipients`).
    case users([UserID])
    /// Every user subscribed to the topic when the fan-out reaches them.
    case topic(String)
    /// Every active user.
    case all

    var isBroadcast: Bool {
        if case .users = self { return false }
        return true
    }

    var json: JSONValue {
        switch self {
        case .users(let ids): ["users": .array(ids.map { .string($0.rawValue) })]
        case .topic(let name): ["topic": .string(name)]
        case .all: "all"
        }
    }

    init?(json: JSONValue) {
        switch json {
        case .string("all"): self = .all
        case .object(let object):
            if case .string(let topic)? = object["topic"] {
                self = .topic(topic)
            } else if case .array(let ids)? = object["users"] {
                self = .users(ids.compactMap(\.stringValue).map(UserID.init(trusted:)))
            } else {
                return nil
            }
        default: return nil
        }
    }
}

/// Drop a trigger whose key was already used within `window` seconds.
public struct DedupSpec: Sendable, Equatable {
    public var key: String
    public var window: TimeInterval

    public init(key: String, window: TimeInterval) {
        self.key = key
        self.window = window
    }
}

/// Gather triggers of the same (template, recipient, key) within `window` seconds into one notification.
public struct DigestSpec: Sendable, Equatable {
    public var key: String
    public var window: TimeInterval

    public init(key: String, window: TimeInterval) {
        self.key = key
        self.window = window
    }
}

/// What the platform asks for when it triggers a notification.
public struct TriggerRequest: Sendable, Equatable {
    public var templateKey: String
    public var recipients: RecipientSpec
    public var data: [String: JSONValue]
    public var category: String
    public var priority: NotificationPriority
    public var dedup: DedupSpec?
    public var digest: DigestSpec?
    public var sendAt: Date?

    public init(templateKey: String, recipients: RecipientSpec, data: [String: JSONValue] = [:], category: String = "general",
                priority: NotificationPriority = .normal, dedup: DedupSpec? = nil, digest: DigestSpec? = nil, sendAt: Date? = nil) {
        self.templateKey = templateKey
        self.recipients = recipients
        self.data = data
        self.category = category
        self.priority = priority
        self.dedup = dedup
        self.digest = digest
        self.sendAt = sendAt
    }
}

/// The answer to a trigger; an idempotent replay returns the stored one with `replayed` set.
public struct TriggerResult: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Being delivered now (explicit recipients are already in their inboxes; broadcasts fan out in jobs).
        case accepted
        /// Waiting for `send_at`.
        case scheduled
        /// Added to a digest per recipient; the digest becomes a notification when its window closes.
        case digested
        /// Dropped: the dedup key was used within its window; `id` is the notification that used it.
        case deduplicated
    }

    public var id: String
    public var status: Status
    /// Recipients reached now (explicit lists); nil for broadcasts, which count as the fan-out goes.
    public var recipients: Int?
    public var replayed: Bool

    public init(id: String, status: Status, recipients: Int?, replayed: Bool = false) {
        self.id = id
        self.status = status
        self.recipients = recipients
        self.replayed = replayed
    }

    var json: JSONValue {
        ["id": .string(id), "status": .string(status.rawValue), "recipients": recipients.map { .int($0) } ?? .null]
    }

    init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, let status = json["status"]?.stringValue.flatMap(Status.init(rawValue:)) else { return nil }
        self.init(id: id, status: status, recipients: json["recipients"]?.intValue, replayed: true)
    }
}

/// A notification as the platform sees it: what was triggered and how far its delivery got.
public struct NotificationRecord: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Waiting for `send_at`.
        case scheduled
        /// Recipients are being expanded in chunks.
        case fanningOut = "fanning_out"
        /// Every recipient was reached (their deliveries may still be in flight).
        case sent
        /// A trigger that went into digests; its events appear in the digest notifications.
        case digested
    }

    public var id: String
    public var templateKey: String
    public var category: String
    public var priority: NotificationPriority
    public var recipients: RecipientSpec
    public var data: [String: JSONValue]
    public var state: State
    public var recipientCount: Int
    public var sendAt: Date?
    public var digestCount: Int?
    public var createdAt: Date
}

/// The per-(notification, user, channel) delivery lifecycle.
public enum DeliveryState: String, Sendable, Codable, CaseIterable {
    case queued, sent, delivered, seen, read, clicked, failed
}

public struct Delivery: Sendable, Equatable {
    public var notificationID: String
    public var user: UserID
    public var channel: NotificationChannelKind
    public var state: DeliveryState
    public var reason: String?
    public var attempts: Int
    /// Set when quiet hours (or `send_at`) held the delivery back until then.
    public var deferredUntil: Date?
    public var updatedAt: Date
}

/// One notification in a user's inbox, rendered in the user's locale.
public struct InboxEntry: Sendable, Equatable {
    public var notificationID: String
    public var templateKey: String
    public var category: String
    public var priority: NotificationPriority
    public var title: String
    public var body: String
    public var actionURL: String?
    public var data: [String: JSONValue]
    /// How many events a digest gathered (nil for a plain notification).
    public var digestCount: Int?
    /// When it appeared (or reappears, after a snooze).
    public var visibleAt: Date
    public var createdAt: Date
    public var seenAt: Date?
    public var readAt: Date?
    public var archivedAt: Date?
    public var clickedAt: Date?
    public var snoozedUntil: Date?

    /// The position of the entry in the inbox order, as cursors and SSE event ids carry it.
    public var position: String { InboxPosition(visibleAt: visibleAt, notificationID: notificationID).text }
}

/// Newest first by (visible_at, notification id).
struct InboxPosition: Equatable {
    var visibleAt: Date
    var notificationID: String

    var text: String { "\(visibleAt.unixMilliseconds):\(notificationID)" }

    init(visibleAt: Date, notificationID: String) {
        self.visibleAt = visibleAt
        self.notificationID = notificationID
    }

    init?(text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let millis = Int64(parts[0]), !parts[1].isEmpty else { return nil }
        visibleAt = Date(unixMilliseconds: millis)
        notificationID = String(parts[1])
    }
}

/// Which inbox entries a list shows.
public struct InboxFilter: Sendable, Equatable {
    public enum Archived: String, Sendable { case exclude, only, include }

    public var unreadOnly: Bool
    public var category: String?
    public var archived: Archived

    public init(unreadOnly: Bool = false, category: String? = nil, archived: Archived = .exclude) {
        self.unreadOnly = unreadOnly
        self.category = category
        self.archived = archived
    }
}

/// Derived counts of a user's inbox (archived and snoozed entries excluded), never stored counters.
public struct InboxCounts: Sendable, Equatable {
    public struct PerCategory: Sendable, Equatable {
        public var total: Int
        public var unread: Int
        public var unseen: Int
    }

    public var total: Int
    public var unread: Int
    public var unseen: Int
    public var byCategory: [String: PerCategory]
}

/// A bulk inbox operation.
public enum InboxMark: String, Sendable, CaseIterable {
    case read, seen, archived, unread, unarchived
}

/// A category of notifications, which preferences are expressed in.
public struct NotificationCategory: Sendable, Equatable {
    public var id: String
    public var description: String
    /// Users cannot turn a mandatory category off on any channel.
    public var mandatory: Bool
    public var createdAt: Date
    public var updatedAt: Date
}

/// One template variant: a key, for one channel, in one locale.
public struct NotificationTemplate: Sendable, Equatable {
    public var key: String
    public var channel: NotificationChannelKind
    public var locale: String
    public var fields: [String: String]
    public var createdAt: Date
    public var updatedAt: Date
}

/// A user's notification settings: locale, time zone and quiet hours, and per category × channel switches.
public struct NotificationPreferences: Sendable, Equatable {
    public var locale: String?
    public var timeZone: String?
    public var quietHours: QuietHours?
    /// category → channel → enabled. Absent means enabled.
    public var channels: [String: [NotificationChannelKind: Bool]]

    public init(locale: String? = nil, timeZone: String? = nil, quietHours: QuietHours? = nil,
                channels: [String: [NotificationChannelKind: Bool]] = [:]) {
        self.locale = locale
        self.timeZone = timeZone
        self.quietHours = quietHours
        self.channels = channels
    }
}
