import Foundation
import ParleyCore

/// What kind of conversation: exactly one `direct` per pair of users; `group`s with roles; `broadcast`
/// groups where only owners and admins post.
public enum ConversationType: String, Sendable, Codable, CaseIterable {
    case direct
    case group
    case broadcast
}

/// A member's role in a group. Direct conversations have two `member`s.
public enum MemberRole: String, Sendable, Codable, CaseIterable, Comparable {
    case member
    case admin
    case owner

    var rank: Int {
        switch self {
        case .member: 0
        case .admin: 1
        case .owner: 2
        }
    }

    public static func < (lhs: MemberRole, rhs: MemberRole) -> Bool { lhs.rank < rhs.rank }
}

/// The kinds of items in a conversation's log: messages people send, and the mutations and membership
/// changes that are log items too (so clients learn of them by `seq`, like messages).
public enum ItemKind: String, Sendable, Codable, CaseIterable {
    // Messages.
    case text, image, file, audio, video, location, custom, system
    // Mutations of earlier items.
    case edit, recall, reaction, pin, unpin
    // Conversation and membership changes.
    case created = "conversation_created"
    case updated = "conversation_updated"
    case memberAdded = "member_added"
    case memberRemoved = "member_removed"
    case memberLeft = "member_left"
    case roleChanged = "role_changed"
    case memberMuted = "member_muted"
    case ownerTransferred = "owner_transferred"
    case dissolved = "conversation_dissolved"

    /// Kinds a client may send as a message.
    public static let userMessageKinds: Set<ItemKind> = [.text, .image, .file, .audio, .video, .location, .custom]

    /// Whether the item is a message (as opposed to a mutation or membership change).
    public var isMessage: Bool { Self.userMessageKinds.contains(self) || self == .system }

    /// Whether an item of this kind counts toward the recipients' unread count: messages only.
    public var countsUnread: Bool { isMessage }

    /// Kinds whose body may be edited afterwards.
    public var isEditable: Bool { self == .text || self == .custom || self == .location }
}

/// A conversation as stored.
public struct Conversation: Sendable, Equatable {
    public var id: String
    public var type: ConversationType
    public var name: String
    public var avatarURL: String?
    public var description: String
    public var createdBy: String
    public var createdAt: Date
    /// The seq of the newest item; items are numbered 1, 2, 3, ... without gaps.
    public var lastSeq: Int64
    public var lastActivityAt: Date
    public var dissolvedAt: Date?
    /// Whether plain members of a group may invite (add) people; otherwise only owners and admins can.
    public var membersCanInvite: Bool = false
}

/// One member of a conversation.
public struct Member: Sendable, Equatable {
    public var userID: UserID
    public var role: MemberRole
    public var joinedAt: Date
    /// Items up to this seq predate the member's (latest) join and are not shown to them.
    public var visibleAfterSeq: Int64
    /// The member's read position: every item up to this seq counts as read. Never moves backwards.
    public var readSeq: Int64
    /// Until when an admin has muted the member (they cannot send).
    public var mutedUntil: Date?
    /// The member's own notification mute of the conversation.
    public var notificationsMuted: Bool
    /// The member pinned the conversation to the top of their list.
    public var pinned: Bool
}

/// One item of a conversation's log.
public struct Item: Sendable, Equatable {
    public var conversationID: String
    public var seq: Int64
    public var id: String
    public var kind: ItemKind
    /// A user id, or `system` for items the platform or Parley itself wrote.
    public var senderID: String
    public var clientMsgID: String?
    public var body: JSONValue
    public var replyTo: String?
    public var mentions: [String]
    public var forwardedFrom: String?
    /// For mutations: the message they apply to.
    public var targetID: String?
    public var createdAt: Date
    public var editedAt: Date?
    public var recalledAt: Date?
    /// Current reactions on a message: emoji → users, filled in when items are read for display.
    public var reactions: [String: [String]] = [:]
}

/// The result of a send: what the client's ack carries.
public struct SendReceipt: Sendable, Equatable {
    public var conversationID: String
    public var clientMsgID: String?
    public var messageID: String
    public var seq: Int64
    public var createdAt: Date
    /// True when this was a retry of a send that had already been stored.
    public var duplicate: Bool
}

extension SendReceipt {
    /// The receipt of a stored message: its first send's (`duplicate: false`) or a retry's (`duplicate: true`).
    init(for item: Item, duplicate: Bool) {
        self.init(conversationID: item.conversationID, clientMsgID: item.clientMsgID, messageID: item.id, seq: item.seq,
                  createdAt: item.createdAt, duplicate: duplicate)
    }
}

/// A conversation as one member sees it in their list.
public struct ConversationSummary: Sendable {
    public var conversation: Conversation
    public var membership: Member
    public var memberCount: Int
    public var unreadCount: Int
    public var lastMessage: Item?
    /// For direct conversations: the other person.
    public var peer: UserID?
}

/// Where an item is: its conversation and seq.
public struct ItemPosition: Hashable, Sendable {
    public var conversationID: String
    public var seq: Int64

    public init(conversationID: String, seq: Int64) {
        self.conversationID = conversationID
        self.seq = seq
    }
}

/// A committed item and who gets it live: each recipient with the item's position in their feed.
public struct ItemForFanOut: Sendable {
    public var item: Item
    public var recipients: [(user: UserID, userSeq: Int64)]

    public init(item: Item, recipients: [(user: UserID, userSeq: Int64)]) {
        self.item = item
        self.recipients = recipients
    }
}
