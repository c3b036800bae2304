import Foundation
import ParleyCore

/// A new chat message as the automatic push needs it.
public struct PushableMessage: Sendable, Equatable {
    public var conversationID: String
    public var seq: Int64
    /// `direct`, `group` or `broadcast`.
    public var conversationType: String
    public var memberCount: Int
    public var senderID: String
    /// User ids and `@all`.
    public var mentions: [String]

    public init(conversationID: String, seq: Int64, conversationType: String, memberCount: Int, senderID: String, mentions: [String]) {
        self.conversationID = conversationID
        self.seq = seq
        self.conversationType = conversationType
        self.memberCount = memberCount
        self.senderID = senderID
        self.mentions = mentions
    }
}

/// A member who may get a push for a message.
public struct PushCandidate: Sendable, Equatable {
    public var user: UserID
    /// The member muted the conversation's notifications.
    public var muted: Bool

    public init(user: UserID, muted: Bool) {
        self.user = user
        self.muted = muted
    }
}

/// What a user has not read in one conversation, when the push is about to go.
public struct UnreadConversation: Sendable, Equatable {
    public var conversationType: String
    /// The group's name, or the other person's name in a direct conversation.
    public var title: String
    public var unreadCount: Int
    public var newestSeq: Int64
    public var latestSenderName: String?
    /// The newest unread message as text (its `text`, or a word for its kind), when there is one.
    public var latestPreview: String?
    public var muted: Bool
    /// The user's total unread count, for the app icon badge.
    public var badge: Int

    public init(conversationType: String, title: String, unreadCount: Int, newestSeq: Int64, latestSenderName: String?,
                latestPreview: String?, muted: Bool, badge: Int) {
        self.conversationType = conversationType
        self.title = title
        self.unreadCount = unreadCount
        self.newestSeq = newestSeq
        self.latestSenderName = latestSenderName
        self.latestPreview = latestPreview
        self.muted = muted
        self.badge = badge
    }
}

/// Notifications' view of Messaging (which owns conversations and read positions). The composition root
/// implements it over the messaging service; Notifications never reads Messaging's tables.
public protocol MessagePushSource: Sendable {
    /// The message at `seq` and the active members other than its sender, or nil when it is gone.
    func message(conversationID: String, seq: Int64) async throws -> (PushableMessage, [PushCandidate])?
    /// What `user` has not read in the conversation, or nil when they are no longer a member.
    func unread(conversationID: String, user: UserID) async throws -> UnreadConversation?
}

/// How messages turn into pushes for people who are not connected.
public struct AutoPushSettings: Sendable {
    public var enabled: Bool
    /// How long after a message the push waits, so a burst becomes one push and a reader who is about to
    /// see it (or reads it on another device) gets none. Direct messages and mentions wait `urgentDelay`.
    public var delay: Duration
    public var urgentDelay: Duration
    /// Messages inside one window of this length share one scheduled push per (user, conversation).
    public var coalesceWindow: Duration
    /// Groups larger than this push only mentions; broadcast conversations never push automatically (the
    /// platform announces through notifications instead).
    public var maxGroupSize: Int
    /// Whether pushes show the message's text; off, they say only who wrote and how many.
    public var showsContent: Bool
    public var previewLength: Int
    /// The preference category users turn message pushes off with (`channels.messages.push = false`).
    public var category: String

    public init(enabled: Bool = true, delay: Duration = .seconds(10), urgentDelay: Duration = .seconds(3),
                coalesceWindow: Duration = .seconds(30), maxGroupSize: Int = 200, showsContent: Bool = true, previewLength: Int = 120,
                category: String = "messages") {
        self.enabled = enabled
        self.delay = delay
        self.urgentDelay = urgentDelay
        self.coalesceWindow = coalesceWindow
        self.maxGroupSize = maxGroupSize
        self.showsContent = showsContent
        self.previewLength = previewLength
        self.category = category
    }
}
