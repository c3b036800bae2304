import Foundation
import ParleyCore

/// What one batch of events contributes to analytics, before any SQL: the pure half of the consumer.
///
/// Every fact carries a key derived from its event id, so building the same batch twice yields the same keys.
struct AnalyticsBatch: Sendable, Equatable {
    /// A counted thing, stored in `analytics_facts`.
    struct Fact: Sendable, Equatable {
        var key: String
        var kind: FactKind
        var occurredAt: Int64
        var position: Int64
        var subject: String = ""
        var ref: String = ""
        var a: String = ""
        var b: String = ""
        var c: String = ""
    }

    /// A member of one of the bitmap sets at an instant.
    struct Membership: Sendable, Equatable {
        var set: SetName
        var member: String
        var occurredAt: Int64
    }

    var facts: [Fact] = []
    var memberships: [Membership] = []
    /// Conversation types learned from `conversation.created`.
    var conversationTypes: [String: String] = [:]

    /// The event types the consumer reads.
    static let eventTypes: Set<String> = [
        "user.connected", "conversation.created", "conversation.read", "message.created", "message.reaction_added",
        "notification.triggered", "notification.requested", "notification.sent", "notification.delivered", "notification.seen",
        "notification.read", "notification.clicked", "notification.failed",
        "moderation.filter_hit", "moderation.report_opened", "moderation.report_resolved",
        "moderation.muted", "moderation.suspended", "moderation.banned",
    ]

    static let messageKinds: Set<String> = ["text", "image", "file", "audio", "video", "location", "custom", "system"]

    init(_ events: [EventEnvelope]) {
        for event in events { add(event) }
    }

    /// The user an actor label names (`user:alice` → alice), nil for API keys and the system.
    static func user(ofActor actor: String) -> String? {
        guard actor.hasPrefix("user:") else { return nil }
        let id = String(actor.dropFirst(5))
        return id.isEmpty ? nil : id
    }

    mutating func active(_ user: String, _ at: Int64) {
        memberships.append(Membership(set: .active, member: user, occurredAt: at))
    }

    mutating func add(_ event: EventEnvelope) {
        let at = event.occurredAt.unixMilliseconds
        let payload = event.payload
        let id = event.id
        func fact(_ key: String, _ kind: FactKind, subject: String = "", ref: String = "", a: String = "", b: String = "", c: String = "") {
            facts.append(Fact(key: key, kind: kind, occurredAt: at, position: event.position, subject: subject, ref: ref, a: a, b: b, c: c))
        }
        switch event.type {
        case "user.connected":
            if let user = payload["user_id"]?.stringValue ?? Self.user(ofActor: event.actor) { active(user, at) }

        case "conversation.created":
            guard let conversation = payload["conversation_id"]?.stringValue else { return }
            let type = payload["conversation_type"]?.stringValue ?? payload["body"]?["type"]?.stringValue
            conversationTypes[conversation] = type ?? "unknown"

        case "conversation.read":
            guard let conversation = payload["conversation_id"]?.stringValue,
                  let user = payload["user_id"]?.stringValue ?? Self.user(ofActor: event.actor) else { return }
            active(user, at)
            memberships.append(Membership(set: .readers, member: user, occurredAt: at))
            fact(id, .read, subject: user, ref: conversation)

        case "message.created":
            guard let conversation = payload["conversation_id"]?.stringValue,
                  let kind = payload["kind"]?.stringValue, Self.messageKinds.contains(kind) else { return }
            // Messages the platform posts (`system`, API keys without a user) count as messages, not as anyone's activity.
            let sender = Self.user(ofActor: event.actor) != nil ? payload["sender_id"]?.stringValue ?? Self.user(ofActor: event.actor) : nil
            fact(id, .message, subject: sender ?? "", ref: conversation, a: kind)
            memberships.append(Membership(set: .conversations, member: conversation, occurredAt: at))
            if let sender {
                active(sender, at)
                memberships.append(Membership(set: .senders, member: sender, occurredAt: at))
                if let replyTo = payload["reply_to"]?.stringValue, !replyTo.isEmpty {
                    fact(id + "#reply", .interaction, subject: sender, ref: conversation, a: "reply")
                }
                if case .array(let mentioned)? = payload["mentions"] {
                    for user in Set(mentioned.compactMap(\.stringValue)).sorted() {
                        fact(id + "#mention:" + user, .interaction, subject: sender, ref: conversation, a: "mention", b: user)
                    }
                }
            }

        case "message.reaction_added":
            guard let user = Self.user(ofActor: event.actor) else { return }
            active(user, at)
            fact(id, .interaction, subject: user, ref: payload["conversation_id"]?.stringValue ?? "", a: "reaction")

        case "notification.triggered", "notification.requested", "notification.sent", "notification.delivered", "notification.seen",
             "notification.read", "notification.clicked", "notification.failed":
            let stage = event.type == "notification.triggered" ? "requested" : String(event.type.dropFirst("notification.".count))
            let notification = payload["notification_id"]?.stringValue ?? ""
            let channel = payload["channel"]?.stringValue ?? ""
            let template = payload["template"]?.stringValue ?? ""
            var users: [String] = []
            if stage != "requested" {
                if let user = payload["user_id"]?.stringValue { users.append(user) }
                if case .array(let list)? = payload["user_ids"] { users += list.compactMap(\.stringValue) }
            }
            if users.isEmpty {
                fact(id, .notification, subject: "", ref: notification, a: stage, b: channel, c: template)
            } else {
                for user in Set(users).sorted() {
                    fact(id + "#" + user, .notification, subject: user, ref: notification, a: stage, b: channel, c: template)
                }
            }

        case "moderation.filter_hit":
            fact(id, .filterHit, subject: Self.user(ofActor: event.actor) ?? "", ref: payload["content_kind"]?.stringValue ?? "",
                 a: payload["category"]?.stringValue ?? "", b: payload["action"]?.stringValue ?? "")
        case "moderation.report_opened":
            fact(id, .reportOpened, ref: payload["report_id"]?.stringValue ?? event.subject, a: payload["category"]?.stringValue ?? "")
        case "moderation.report_resolved":
            fact(id, .reportResolved, ref: payload["report_id"]?.stringValue ?? event.subject, a: payload["resolution"]?.stringValue ?? "")
        case "moderation.muted", "moderation.suspended", "moderation.banned":
            fact(id, .moderationAction, subject: payload["user_id"]?.stringValue ?? "", a: String(event.type.dropFirst("moderation.".count)))

        default:
            return
        }
    }
}

/// The kinds of raw facts.
enum FactKind: String, Sendable, CaseIterable {
    case message, read, interaction, notification
    case filterHit = "filter_hit"
    case reportOpened = "report_opened"
    case reportResolved = "report_resolved"
    case moderationAction = "moderation_action"
}

/// The exact sets kept as bitmaps per bucket.
enum SetName: String, Sendable, CaseIterable {
    /// Users who connected, sent, reacted or read.
    case active
    case senders
    case readers
    /// Conversations with at least one message.
    case conversations
}
