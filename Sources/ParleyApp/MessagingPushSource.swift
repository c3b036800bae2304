import Foundation
import Identity
import Messaging
import Notifications
import ParleyCore

/// Notifications' view of Messaging and Identity for automatic pushes: who is in a conversation, what they
/// have not read, and the names a push shows.
struct MessagingPushSource: MessagePushSource {
    let messaging: MessagingService
    let users: any UserStore

    func message(conversationID: String, seq: Int64) async throws -> (PushableMessage, [PushCandidate])? {
        guard let item = try await messaging.storedItem(conversationID, seq: seq),
              let (conversation, members) = try await messaging.conversationWithMembers(conversationID) else { return nil }
        let message = PushableMessage(conversationID: conversationID, seq: seq, conversationType: conversation.type.rawValue,
                                      memberCount: members.count, senderID: item.senderID, mentions: item.mentions)
        return (message, members.map { PushCandidate(user: $0.userID, muted: $0.notificationsMuted) })
    }

    func unread(conversationID: String, user: UserID) async throws -> UnreadConversation? {
        let summary: ConversationSummary
        do {
            summary = try await messaging.conversation(conversationID, for: .user(user))
        } catch let error as ParleyError where error.kind == .notFound || error.kind == .forbidden {
            return nil
        }
        let last = summary.lastMessage
        let senderName = try await last.flatMap { UserID.isValid($0.senderID) ? UserID(trusted: $0.senderID) : nil }
            .asyncMap { try await name(of: $0) }
        let title: String
        if summary.conversation.type == .direct, let peer = summary.peer {
            title = try await name(of: peer)
        } else {
            title = summary.conversation.name
        }
        return UnreadConversation(
            conversationType: summary.conversation.type.rawValue, title: title, unreadCount: summary.unreadCount,
            newestSeq: summary.conversation.lastSeq, latestSenderName: senderName, latestPreview: last.map(Self.preview),
            muted: summary.membership.notificationsMuted, badge: try await messaging.badge(for: user)
        )
    }

    private func name(of user: UserID) async throws -> String {
        let found = try await users.find(user)
        return found.map { $0.name.isEmpty ? user.rawValue : $0.name } ?? user.rawValue
    }

    /// The text of a message, or a word for what it is.
    static func preview(_ item: Item) -> String {
        if item.recalledAt != nil { return "Message recalled" }
        if let text = item.body["text"]?.stringValue, !text.isEmpty { return text }
        switch item.kind {
        case .image: return "Photo"
        case .file: return "File"
        case .audio: return "Voice message"
        case .video: return "Video"
        case .location: return "Location"
        default: return "New message"
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
