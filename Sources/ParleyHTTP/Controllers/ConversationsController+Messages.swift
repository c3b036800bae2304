import Foundation
import Hummingbird
import Messaging
import ParleyCore

/// Sending and reading messages, and what people do to them afterwards: edit, recall, react, pin,
/// delete for themselves.
extension ConversationsController {
    struct SendBody: RequestBody {
        static let fields: Set<String> = ["client_msg_id", "kind", "body", "reply_to", "mentions", "forwarded_from"]
        /// Required over REST: it is what makes a retried POST safe.
        let client_msg_id: String
        let kind: String
        let body: JSONValue
        let reply_to: String?
        let mentions: [String]?
        let forwarded_from: String?
    }

    struct EditBody: RequestBody {
        static let fields: Set<String> = ["body"]
        let body: JSONValue
    }

    /// History pages hold this many items unless the client asks otherwise.
    static let defaultHistoryLimit = 50

    func registerMessageRoutes(on routes: RouteTable) {
        routes.add(.post, "/v1/conversations/{conversation_id}/messages", policy: .userOrServer, limit: .sendMessage) { request, context in
            let body = try await request.decodeBody(SendBody.self, context: context)
            guard let kind = ItemKind(rawValue: body.kind) else {
                throw ParleyError.invalidField("kind", "'\(body.kind)' is not a message kind")
            }
            let draft = try MessageDraft(
                conversationID: try context.conversationID, clientMsgID: body.client_msg_id, kind: kind, body: body.body,
                replyTo: body.reply_to, mentions: body.mentions ?? [], forwardedFrom: body.forwarded_from
            )
            let receipt = try await messaging.send(draft, by: try await actor(request, context))
            return try JSONBody.response(MessagingWire.receipt(receipt), status: receipt.duplicate ? .ok : .created)
        }
        routes.add(.get, "/v1/conversations/{conversation_id}/messages", policy: .userOrServer) { request, context in
            let limit = try request.integerQuery("limit") ?? Int64(Self.defaultHistoryLimit)
            guard (1...Int64(PageRequest.maxLimit)).contains(limit) else {
                throw ParleyError.invalidParameter("limit", "must be between 1 and \(PageRequest.maxLimit)")
            }
            let (items, hasMore) = try await messaging.history(
                try context.conversationID, for: try await actor(request, context),
                afterSeq: try request.integerQuery("after_seq"), beforeSeq: try request.integerQuery("before_seq"), limit: Int(limit)
            )
            return try JSONBody.response(JSONValue.object(["items": .array(items.map(MessagingWire.item)), "has_more": .bool(hasMore)]))
        }
        routes.add(.patch, "/v1/conversations/{conversation_id}/messages/{message_id}", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(EditBody.self, context: context)
            let item = try await messaging.edit(try context.conversationID, messageID: try context.messageID, body: body.body,
                                                by: try await actor(request, context))
            return try JSONBody.response(MessagingWire.item(item))
        }
        routes.add(.post, "/v1/conversations/{conversation_id}/messages/{message_id}/recall", policy: .userOrServer) { request, context in
            let item = try await messaging.recall(try context.conversationID, messageID: try context.messageID,
                                                  by: try await actor(request, context))
            return try JSONBody.response(MessagingWire.item(item))
        }
        for (method, add) in [(HTTPRequest.Method.put, true), (.delete, false)] {
            routes.add(method, "/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
                       policy: .userOrServer) { request, context in
                let user = try await actingUser(request, context)
                let item = try await messaging.react(try context.conversationID, messageID: try context.messageID,
                                                     emoji: try context.decodedParameter("emoji"), add: add, by: user)
                let answer: JSONValue = ["changed": .bool(item != nil), "item": item.map(MessagingWire.item) ?? .null]
                return try JSONBody.response(answer)
            }
        }
        for (action, pinned) in [("pin", true), ("unpin", false)] {
            let path = "/v1/conversations/{conversation_id}/messages/{message_id}/\(action)"
            routes.add(.post, path, policy: .userOrServer) { request, context in
                let item = try await messaging.pin(try context.conversationID, messageID: try context.messageID, pinned: pinned,
                                                   by: try await actor(request, context))
                return try JSONBody.response(MessagingWire.item(item))
            }
        }
        routes.add(.delete, "/v1/conversations/{conversation_id}/messages/{message_id}", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            try await messaging.deleteForMe(try context.conversationID, messageID: try context.messageID, user: user)
            return Response(status: .noContent)
        }
    }
}
