import Messaging
import ParleyCore

/// The documented routes of chat (`ConversationsController`) and the shapes they answer with.
/// Every route takes a user token, or an API key with `Parley-Act-As: <user_id>` (or, where the platform may
/// act itself, an API key alone).
extension OpenAPIBuilder {
    public mutating func addMessaging() {
        let conversation = "/v1/conversations/{conversation_id}"
        let message = "\(conversation)/messages/{message_id}"
        let history: [(name: String, type: String, description: String)] = [
            ("after_seq", "integer", "the oldest items after this seq"),
            ("before_seq", "integer", "the newest items before this seq (the default is the newest of all)"),
            ("limit", "integer", "1 to 200, default 50"),
        ]
        func op(
            _ method: String, _ path: String, _ summary: String, request: String? = nil,
            query: [(name: String, type: String, description: String)] = [], _ responses: [(Int, String, String?)]
        ) -> OpenAPIOperation {
            OpenAPIOperation(method, path, tag: "messaging", summary: summary, security: .either, request: request, query: query,
                             responses: responses.map { (status: $0.0, description: $0.1, schema: $0.2) })
        }
        add([
            op("POST", "/v1/conversations", "Create a group or broadcast group, or open the direct conversation with one person.",
               request: "ConversationCreate",
               [(201, "Created", "Conversation"), (200, "The existing direct conversation", "Conversation")]),
            op("GET", "/v1/conversations", "The acting user's conversations, most recently active first, with unread counts.",
               query: [("limit", "integer", "1 to 200, default 50"), ("cursor", "string", "next_cursor of the previous page")],
               [(200, "A page of conversations", "ConversationPage")]),
            op("GET", conversation, "A conversation the actor can see.", [(200, "The conversation", "Conversation")]),
            op("PATCH", conversation, "Change a group's name, avatar or description (owners and admins).", request: "ConversationUpdate",
               [(200, "The conversation", "Conversation")]),
            op("POST", "\(conversation)/dissolve", "Dissolve a group (owner): no more messages, history stays.",
               [(200, "The conversation_dissolved item", "Item")]),
            op("PUT", "\(conversation)/settings", "The acting user's own mute and pin of the conversation.",
               request: "ConversationSettings",
               [(200, "The conversation", "Conversation")]),
            op("GET", "\(conversation)/members", "The active members.", [(200, "The members", "MemberList")]),
            op("POST", "\(conversation)/members", "Add members (owners and admins); they see history from their join on.",
               request: "MembersAdd", [(200, "The member_added item", "Item")]),
            op("DELETE", "\(conversation)/members/{user_id}", "Remove a member (owners remove anyone; admins remove plain members).",
               [(200, "The member_removed item", "Item")]),
            op("POST", "\(conversation)/leave", "The acting user leaves (an owner transfers ownership first).",
               [(200, "The member_left item", "Item")]),
            op("PUT", "\(conversation)/members/{user_id}/role", "Make a member an admin or a plain member (owner).", request: "RoleChange",
               [(200, "The role_changed item", "Item")]),
            op("POST", "\(conversation)/members/{user_id}/mute", "Stop a member from sending for a while (0 lifts the mute).",
               request: "MemberMute", [(200, "The member_muted item", "Item")]),
            op("POST", "\(conversation)/transfer", "Hand ownership to another member (owner); the previous owner becomes an admin.",
               request: "OwnershipTransfer", [(200, "The owner_transferred item", "Item")]),
            op("POST", "\(conversation)/messages", "Send a message; a retry with the same client_msg_id returns the original receipt.",
               request: "MessageSend", [(201, "Stored", "SendReceipt"), (200, "A retry of a stored message", "SendReceipt")]),
            op("GET", "\(conversation)/messages", "History in ascending seq order, from the actor's join on.", query: history,
               [(200, "A window of items", "ItemWindow")]),
            op("PATCH", message, "Edit a message's body (its sender, within the edit window).", request: "MessageEdit",
               [(200, "The edit item", "Item")]),
            op("POST", "\(message)/recall", "Recall a message for everyone (its sender within the window; group admins any time).",
               [(200, "The recall item", "Item")]),
            op("PUT", "\(message)/reactions/{emoji}", "Add the acting user's reaction (the emoji percent-encoded in the path).",
               [(200, "Whether anything changed, and the reaction item", "ReactionResult")]),
            op("DELETE", "\(message)/reactions/{emoji}", "Remove the acting user's reaction.",
               [(200, "Whether anything changed, and the reaction item", "ReactionResult")]),
            op("POST", "\(message)/pin", "Pin a message (anyone in a direct conversation; owners and admins in groups).",
               [(200, "The pin item", "Item")]),
            op("POST", "\(message)/unpin", "Unpin a message.", [(200, "The unpin item", "Item")]),
            op("DELETE", message, "Delete a message for the acting user only.", [(204, "Hidden from the acting user", nil)]),
            op("POST", "\(conversation)/read", "Move the acting user's read position forward (never back).", request: "ReadMark",
               [(200, "The read position, unread count and badge", "ReadState")]),
            op("GET", "\(conversation)/receipts", "Who read up to a seq: read by K of N.",
               query: [("seq", "integer", "the item's seq (required)")], [(200, "The readers", "Receipts")]),
            op("GET", "/v1/badge", "The acting user's unread total over conversations they have not muted.", [(200, "The badge", "Badge")]),
            op("GET", "/v1/sync", "What changed for the acting user since a resume token; without one, the current token.",
               query: [("epoch", "string", "the token's epoch"), ("user_seq", "integer", "the token's user_seq")],
               [(200, "The missed entries, or resync_required with each conversation's last seq", "SyncResponse")]),
        ], schemas: Self.messagingSchemas)
    }

    static var messagingSchemas: [String: JSONValue] {
        let item = Schema.ref("Item")
        return [
            "Conversation": Schema.object([
                "id": Schema.string, "type": Schema.enumeration(ConversationType.allCases.map(\.rawValue)), "name": Schema.string,
                "avatar_url": Schema.nullableString, "description": Schema.string, "created_by": Schema.string,
                "created_at": Schema.timestamp, "last_seq": Schema.integer, "last_activity_at": Schema.timestamp,
                "dissolved": Schema.boolean, "members_can_invite": Schema.boolean, "member_count": Schema.integer,
                "last_message": .object(["oneOf": .array([item, .object(["type": "null"])])]),
                "peer": Schema.nullableString,
                "unread_count": Schema.integer, "read_seq": Schema.integer, "role": Schema.enumeration(MemberRole.allCases.map(\.rawValue)),
                "muted": Schema.boolean, "pinned": Schema.boolean,
            ], required: ["id", "type", "name", "last_seq", "member_count", "last_message"]),
            "ConversationPage": Schema.object(["items": Schema.array(Schema.ref("Conversation")), "next_cursor": Schema.nullableString],
                                              required: ["items", "next_cursor"]),
            "ConversationCreate": Schema.object([
                "type": Schema.enumeration(ConversationType.allCases.map(\.rawValue)), "name": Schema.string, "avatar_url": Schema.string,
                "description": Schema.string, "members": Schema.array(Schema.string),
                "owner": .object(["type": "string", "description": "Groups created by an API key without Parley-Act-As need an owner."]),
                "members_can_invite": .object(["type": "boolean", "description": "Let plain members add (invite) people; default false."]),
            ], required: ["type", "members"]),
            "ConversationUpdate": Schema.object([
                "name": Schema.string, "avatar_url": Schema.nullableString, "description": Schema.string, "members_can_invite": Schema.boolean,
            ]),
            "ConversationSettings": Schema.object(["muted": Schema.boolean, "pinned": Schema.boolean]),
            "Member": Schema.object([
                "user_id": Schema.string, "role": Schema.enumeration(MemberRole.allCases.map(\.rawValue)), "joined_at": Schema.timestamp,
                "read_seq": Schema.integer, "muted_until": Schema.nullableString,
            ], required: ["user_id", "role", "joined_at", "read_seq", "muted_until"]),
            "MemberList": Schema.object(["items": Schema.array(Schema.ref("Member"))], required: ["items"]),
            "MembersAdd": Schema.object(["members": Schema.array(Schema.string)], required: ["members"]),
            "RoleChange": Schema.object(["role": Schema.enumeration(["admin", "member"])], required: ["role"]),
            "MemberMute": Schema.object(["duration_seconds": Schema.integer], required: ["duration_seconds"]),
            "OwnershipTransfer": Schema.object(["user_id": Schema.string], required: ["user_id"]),
            "Item": Schema.object([
                "conversation_id": Schema.string, "seq": Schema.integer, "id": Schema.string,
                "kind": Schema.enumeration(ItemKind.allCases.map(\.rawValue)), "sender_id": Schema.string,
                "client_msg_id": Schema.nullableString, "body": Schema.anyValue, "reply_to": Schema.nullableString,
                "mentions": Schema.array(Schema.string), "forwarded_from": Schema.nullableString, "target_id": Schema.nullableString,
                "created_at": Schema.timestamp, "edited_at": Schema.nullableString, "recalled": Schema.boolean,
                "reactions": .object(["type": "object", "additionalProperties": Schema.array(Schema.string)]),
            ], required: ["conversation_id", "seq", "id", "kind", "sender_id", "body", "created_at", "recalled", "reactions"]),
            "ItemWindow": Schema.object(["items": Schema.array(item), "has_more": Schema.boolean], required: ["items", "has_more"]),
            "MessageSend": Schema.object([
                "client_msg_id": Schema.string, "kind": Schema.enumeration(ItemKind.userMessageKinds.map(\.rawValue).sorted() + ["system"]),
                "body": Schema.anyObject, "reply_to": Schema.string, "mentions": Schema.array(Schema.string),
                "forwarded_from": Schema.string,
            ], required: ["client_msg_id", "kind", "body"]),
            "SendReceipt": Schema.object([
                "conversation_id": Schema.string, "client_msg_id": Schema.nullableString, "message_id": Schema.string,
                "seq": Schema.integer, "ts": Schema.timestamp, "duplicate": Schema.boolean,
            ], required: ["conversation_id", "message_id", "seq", "ts", "duplicate"]),
            "MessageEdit": Schema.object(["body": Schema.anyObject], required: ["body"]),
            "ReactionResult": Schema.object([
                "changed": Schema.boolean, "item": .object(["oneOf": .array([item, .object(["type": "null"])])]),
            ], required: ["changed", "item"]),
            "ReadMark": Schema.object(["seq": Schema.integer], required: ["seq"]),
            "ReadState": Schema.object([
                "conversation_id": Schema.string, "read_seq": Schema.integer, "unread_count": Schema.integer, "badge": Schema.integer,
            ], required: ["conversation_id", "read_seq", "unread_count", "badge"]),
            "Receipts": Schema.object([
                "seq": Schema.integer, "read_by": Schema.array(Schema.string), "read_count": Schema.integer, "of": Schema.integer,
            ], required: ["seq", "read_by", "read_count", "of"]),
            "Badge": Schema.object(["badge": Schema.integer], required: ["badge"]),
            "ResumeToken": Schema.object(["epoch": Schema.string, "user_seq": Schema.integer], required: ["epoch", "user_seq"]),
            "SyncEntry": Schema.object([
                "user_seq": Schema.integer, "conversation_id": Schema.string, "seq": Schema.integer,
                "kind": Schema.enumeration(["item", "read"]), "item": .object(["oneOf": .array([item, .object(["type": "null"])])]),
            ], required: ["user_seq", "conversation_id", "seq", "kind", "item"]),
            "SyncResponse": Schema.object([
                "resync_required": Schema.boolean, "entries": Schema.array(Schema.ref("SyncEntry")),
                "last_seqs": .object(["type": "object", "additionalProperties": Schema.integer]),
                "token": Schema.ref("ResumeToken"),
            ], required: ["resync_required", "token"]),
        ]
    }
}
