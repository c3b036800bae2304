import Foundation
import Messaging
import ParleyCore

/// The wire shapes of messaging, shared by the REST API and the WebSocket gateway so a client parses
/// one item format whichever way it arrives. Optional fields are written as `null`, never omitted.
public enum MessagingWire {
    public static func item(_ item: Item) -> JSONValue {
        .object([
            "conversation_id": .string(item.conversationID),
            "seq": .int(Int(item.seq)),
            "id": .string(item.id),
            "kind": .string(item.kind.rawValue),
            "sender_id": .string(item.senderID),
            "client_msg_id": item.clientMsgID.map { .string($0) } ?? .null,
            "body": item.body,
            "reply_to": item.replyTo.map { .string($0) } ?? .null,
            "mentions": .array(item.mentions.map { .string($0) }),
            "forwarded_from": item.forwardedFrom.map { .string($0) } ?? .null,
            "target_id": item.targetID.map { .string($0) } ?? .null,
            "created_at": .string(Timestamp.format(item.createdAt)),
            "edited_at": item.editedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "recalled": .bool(item.recalledAt != nil),
            "reactions": .object(item.reactions.mapValues { .array($0.map { .string($0) }) }),
        ])
    }

    /// Appends exactly the bytes of `item(item).jsonString()`, without building its dictionary: the live fan-out
    /// writes one per message, and the dictionary, its key sort and its teardown were ~5% of a send's CPU. Keys in
    /// the writer's order (sorted by UTF-8 bytes); a test compares the two byte for byte.
    public static func writeItem(_ item: Item, into out: inout [UInt8]) {
        out.appendLiteral(#"{"body":"#)
        item.body.write(into: &out)
        out.appendLiteral(#","client_msg_id":"#)
        out.appendJSON(item.clientMsgID)
        out.appendLiteral(#","conversation_id":"#)
        out.appendJSON(item.conversationID)
        out.appendLiteral(#","created_at":"#)
        out.appendJSON(Timestamp.format(item.createdAt))
        out.appendLiteral(#","edited_at":"#)
        out.appendJSON(item.editedAt.map(Timestamp.format))
        out.appendLiteral(#","forwarded_from":"#)
        out.appendJSON(item.forwardedFrom)
        out.appendLiteral(#","id":"#)
        out.appendJSON(item.id)
        out.appendLiteral(#","kind":"#)
        out.appendJSON(item.kind.rawValue)
        out.appendLiteral(#","mentions":"#)
        out.appendJSON(item.mentions)
        out.appendLiteral(#","reactions":"#)
        if item.reactions.isEmpty {
            out.appendLiteral("{}")
        } else {
            JSONValue.object(item.reactions.mapValues { .array($0.map { .string($0) }) }).write(into: &out)
        }
        out.appendLiteral(item.recalledAt != nil ? #","recalled":true"# : #","recalled":false"#)
        out.appendLiteral(#","reply_to":"#)
        out.appendJSON(item.replyTo)
        out.appendLiteral(#","sender_id":"#)
        out.appendJSON(item.senderID)
        out.appendLiteral(#","seq":"#)
        out.appendJSON(Int(item.seq))
        out.appendLiteral(#","target_id":"#)
        out.appendJSON(item.targetID)
        out.appendLiteral("}")
    }

    public static func conversation(_ summary: ConversationSummary, includeMembership: Bool = true) -> JSONValue {
        let conversation = summary.conversation
        var object: [String: JSONValue] = [
            "id": .string(conversation.id),
            "type": .string(conversation.type.rawValue),
            "name": .string(conversation.name),
            "avatar_url": conversation.avatarURL.map { .string($0) } ?? .null,
            "description": .string(conversation.description),
            "created_by": .string(conversation.createdBy),
            "created_at": .string(Timestamp.format(conversation.createdAt)),
            "last_seq": .int(Int(conversation.lastSeq)),
            "last_activity_at": .string(Timestamp.format(conversation.lastActivityAt)),
            "dissolved": .bool(conversation.dissolvedAt != nil),
            "members_can_invite": .bool(conversation.membersCanInvite),
            "member_count": .int(summary.memberCount),
            "last_message": summary.lastMessage.map(item) ?? .null,
            "peer": summary.peer.map { .string($0.rawValue) } ?? .null,
        ]
        if includeMembership {
            object["unread_count"] = .int(summary.unreadCount)
            object["read_seq"] = .int(Int(summary.membership.readSeq))
            object["role"] = .string(summary.membership.role.rawValue)
            object["muted"] = .bool(summary.membership.notificationsMuted)
            object["pinned"] = .bool(summary.membership.pinned)
        }
        return .object(object)
    }

    public static func member(_ member: Member) -> JSONValue {
        .object([
            "user_id": .string(member.userID.rawValue),
            "role": .string(member.role.rawValue),
            "joined_at": .string(Timestamp.format(member.joinedAt)),
            "read_seq": .int(Int(member.readSeq)),
            "muted_until": member.mutedUntil.map { .string(Timestamp.format($0)) } ?? .null,
        ])
    }

    public static func receipt(_ receipt: SendReceipt) -> JSONValue {
        .object([
            "conversation_id": .string(receipt.conversationID),
            "client_msg_id": receipt.clientMsgID.map { .string($0) } ?? .null,
            "message_id": .string(receipt.messageID),
            "seq": .int(Int(receipt.seq)),
            "ts": .string(Timestamp.format(receipt.createdAt)),
            "duplicate": .bool(receipt.duplicate),
        ])
    }

    public static func readState(_ state: MessagingService.ReadState) -> JSONValue {
        .object([
            "conversation_id": .string(state.conversationID),
            "read_seq": .int(Int(state.readSeq)),
            "unread_count": .int(state.unreadCount),
            "badge": .int(state.badge),
        ])
    }

    public static func token(_ token: MessagingService.ResumeToken) -> JSONValue {
        .object(["epoch": .string(token.epoch), "user_seq": .int(Int(token.userSeq))])
    }
}
