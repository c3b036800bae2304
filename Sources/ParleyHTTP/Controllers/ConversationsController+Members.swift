import Foundation
import Hummingbird
import Messaging
import ParleyCore

/// Group membership: listing, adding, removing, leaving, roles, mutes and ownership. Every change is a
/// log item of the conversation, and the route answers with that item.
extension ConversationsController {
    struct AddMembersBody: RequestBody {
        static let fields: Set<String> = ["members"]
        let members: [UserID]
    }

    struct RoleBody: RequestBody {
        static let fields: Set<String> = ["role"]
        let role: String
    }

    struct MuteBody: RequestBody {
        static let fields: Set<String> = ["duration_seconds"]
        let duration_seconds: Int
    }

    struct TransferBody: RequestBody {
        static let fields: Set<String> = ["user_id"]
        let user_id: UserID
    }

    func registerMemberRoutes(on routes: RouteTable) {
        routes.add(.get, "/v1/conversations/{conversation_id}/members", policy: .userOrServer) { request, context in
            let actor = try await actor(request, context)
            let members = try await messaging.members(try context.conversationID, for: actor)
            return try JSONBody.response(JSONValue.object(["items": .array(members.map(MessagingWire.member))]))
        }
        routes.add(.post, "/v1/conversations/{conversation_id}/members", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(AddMembersBody.self, context: context)
            let actor = try await actor(request, context)
            let item = try await messaging.addMembers(try context.conversationID, users: body.members, by: actor)
            return try JSONBody.response(MessagingWire.item(item))
        }
        routes.add(.delete, "/v1/conversations/{conversation_id}/members/{user_id}", policy: .userOrServer) { request, context in
            let actor = try await actor(request, context)
            let item = try await messaging.removeMember(try context.conversationID, user: try context.targetUserID, by: actor)
            return try JSONBody.response(MessagingWire.item(item))
        }
        routes.add(.post, "/v1/conversations/{conversation_id}/leave", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            return try JSONBody.response(MessagingWire.item(try await messaging.leave(try context.conversationID, user: user)))
        }
        routes.add(.put, "/v1/conversations/{conversation_id}/members/{user_id}/role", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(RoleBody.self, context: context)
            guard let role = MemberRole(rawValue: body.role), role != .owner else {
                throw ParleyError.invalidField("role", "use admin or member (transfer makes someone the owner)")
            }
            let actor = try await actor(request, context)
            let item = try await messaging.setRole(try context.conversationID, user: try context.targetUserID, role: role, by: actor)
            return try JSONBody.response(MessagingWire.item(item))
        }
        routes.add(.post, "/v1/conversations/{conversation_id}/members/{user_id}/mute", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(MuteBody.self, context: context)
            let actor = try await actor(request, context)
            let item = try await messaging.muteMember(try context.conversationID, user: try context.targetUserID,
                                                      seconds: body.duration_seconds, by: actor)
            return try JSONBody.response(MessagingWire.item(item))
        }
        routes.add(.post, "/v1/conversations/{conversation_id}/transfer", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(TransferBody.self, context: context)
            let actor = try await actor(request, context)
            let item = try await messaging.transferOwnership(try context.conversationID, to: body.user_id, by: actor)
            return try JSONBody.response(MessagingWire.item(item))
        }
    }
}
