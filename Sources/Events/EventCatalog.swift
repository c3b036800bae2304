/// Every event type Parley writes to the log today, with what it means: what webhooks may subscribe to
/// and what `GET /v1/admin/events/types` lists. A context that starts writing a new type adds it here.
public enum EventCatalog {
    public struct Entry: Sendable, Equatable {
        public let type: String
        public let description: String
    }

    public static let entries: [Entry] = [
        Entry(type: "user.created", description: "The platform created a user."),
        Entry(type: "user.updated", description: "The platform replaced a user's profile."),
        Entry(type: "user.deactivated", description: "A user was deactivated; their tokens stopped working."),
        Entry(type: "user.reactivated", description: "A deactivated user was reactivated."),
        Entry(type: "notification.triggered", description: "The platform triggered a notification (one per trigger, also for broadcasts)."),
        Entry(type: "notification.delivered", description: "A notification reached the inboxes of a chunk of users (user_ids, up to 1,000)."),
        Entry(type: "notification.sent", description: "An external channel (webhook, email, push) took a notification for a user."),
        Entry(type: "notification.failed", description: "A channel gave up on a notification for a user (with the reason)."),
        Entry(type: "notification.seen", description: "A user saw a notification in their inbox for the first time."),
        Entry(type: "notification.read", description: "A user read a notification for the first time."),
        Entry(type: "notification.clicked", description: "A user followed a notification's tracked link for the first time."),
        Entry(type: "notification.resurfaced", description: "A snoozed notification came back into a user's inbox (user_ids)."),
        Entry(type: "notification.inbox_changed", description: "A user marked notifications read, seen, archived or snoozed."),
        Entry(type: "moderation.filter_hit", description: "An automated check rewrote, held or refused someone's content."),
        Entry(type: "moderation.report_opened", description: "A user reported a message or a user."),
        Entry(type: "moderation.report_resolved", description: "A moderator acted on a case (dismissed, removed, warned, sanctioned)."),
        Entry(type: "moderation.muted", description: "A moderator muted a user, everywhere or in one conversation (conversation_id)."),
        Entry(type: "moderation.suspended", description: "A user was suspended (by a moderator or by strikes)."),
        Entry(type: "moderation.banned", description: "A moderator banned a user."),
        Entry(type: "user.connected", description: "A user's device opened a WebSocket connection and said hello."),
        Entry(type: "conversation.created", description: "A direct conversation, group or broadcast group was created."),
        Entry(type: "conversation.updated", description: "A group's name, avatar or description changed."),
        Entry(type: "conversation.member_added", description: "Members were added to a conversation."),
        Entry(type: "conversation.member_removed", description: "A member was removed from a conversation."),
        Entry(type: "conversation.member_left", description: "A member left a conversation."),
        Entry(type: "conversation.role_changed", description: "A member became an admin or a plain member."),
        Entry(type: "conversation.member_muted", description: "A member was muted (or unmuted) in a conversation."),
        Entry(type: "conversation.owner_transferred", description: "A group's ownership passed to another member."),
        Entry(type: "conversation.dissolved", description: "A group was dissolved; its history stays."),
        Entry(type: "conversation.read", description: "A member's read position moved forward."),
        Entry(type: "message.created", description: "A message was sent."),
        Entry(type: "message.edited", description: "A message's body was edited."),
        Entry(type: "message.recalled", description: "A message was recalled for everyone."),
        Entry(type: "message.reaction_added", description: "A user reacted to a message."),
        Entry(type: "message.reaction_removed", description: "A user removed their reaction to a message."),
        Entry(type: "message.pinned", description: "A message was pinned."),
        Entry(type: "message.unpinned", description: "A message was unpinned."),
    ]

    public static let types: Set<String> = Set(entries.map(\.type))

    /// Whether `pattern` names a known type exactly, or is `prefix.*` where some known type starts with `prefix.`.
    public static func isKnown(pattern: String) -> Bool {
        if types.contains(pattern) { return true }
        guard pattern.hasSuffix(".*"), pattern.count > 2 else { return false }
        let prefix = String(pattern.dropLast(1))
        return types.contains { $0.hasPrefix(prefix) }
    }
}
