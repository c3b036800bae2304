import Foundation
import Hummingbird
import Messaging
import ParleyCore

/// Creating, listing, reading, renaming and dissolving conversations, and a member's own settings.
extension ConversationsController {
    struct CreateBody: RequestBody {
        static let fields: Set<String> = ["type", "name", "avatar_url", "description", "members", "owner", "members_can_invite"]
        let type: String
        let name: String?
        let avatar_url: String?
        let description: String?
        let members: [UserID]?
        let owner: UserID?
        let members_can_invite: Bool?
    }

    /// A partial update. `avatar_url: null` clears the avatar, so absent and null are told apart.
    struct UpdateBody: RequestBody {
        static let fields: Set<String> = ["name", "avatar_url", "description", "members_can_invite"]
        let name: String?
        let avatarURL: String??
        let description: String?
        let membersCanInvite: Bool?

        enum CodingKeys: String, CodingKey { case name, avatar_url, description, members_can_invite }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            description = try container.decodeIfPresent(String.self, forKey: .description)
            membersCanInvite = try container.decodeIfPresent(Bool.self, forKey: .members_can_invite)
            if container.contains(.avatar_url) {
                let cleared = try container.decodeNil(forKey: .avatar_url)
                avatarURL = .some(cleared ? nil : try container.decode(String.self, forKey: .avatar_url))
            } else {
                avatarURL = .none
            }
        }
    }

    struct SettingsBody: RequestBody {
        static let fields: Set<String> = ["muted", "pinned"]
        let muted: Bool?
        let pinned: Bool?
    }

    func registerConversationRoutes(on routes: RouteTable) {
        routes.add(.post, "/v1/conversations", policy: .userOrServer, limit: .createConversation) { request, context in
            let body = try await request.decodeBody(CreateBody.self, context: context)
            let actor = try await actor(request, context)
            guard let type = ConversationType(rawValue: body.type) else {
                throw ParleyError.invalidField("type", "use direct, group or broadcast")
            }
            let (id, created) = type == .direct
                ? try await openDirect(body, by: actor)
                : (try await createGroup(body, type: type, by: actor), true)
            return try JSONBody.response(try await conversationJSON(id, for: actor), status: created ? .created : .ok)
        }
        routes.add(.get, "/v1/conversations", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let page = try await messaging.conversations(for: user, page: try request.pageRequest())
            return try JSONBody.response(pageJSON(page.items.map { MessagingWire.conversation($0) }, nextCursor: page.nextCursor))
        }
        routes.add(.get, "/v1/conversations/{conversation_id}", policy: .userOrServer) { request, context in
            let actor = try await actor(request, context)
            return try JSONBody.response(try await conversationJSON(try context.conversationID, for: actor))
        }
        routes.add(.patch, "/v1/conversations/{conversation_id}", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(UpdateBody.self, context: context)
            guard body.name != nil || body.avatarURL != nil || body.description != nil || body.membersCanInvite != nil else {
                throw ParleyError.invalidField("body", "name at least one of name, avatar_url, description and members_can_invite")
            }
            let actor = try await actor(request, context)
            let id = try context.conversationID
            _ = try await messaging.updateInfo(id, name: body.name, avatarURL: body.avatarURL, description: body.description,
                                               membersCanInvite: body.membersCanInvite, by: actor)
            return try JSONBody.response(try await conversationJSON(id, for: actor))
        }
        routes.add(.post, "/v1/conversations/{conversation_id}/dissolve", policy: .userOrServer) { request, context in
            let actor = try await actor(request, context)
            return try JSONBody.response(MessagingWire.item(try await messaging.dissolve(try context.conversationID, by: actor)))
        }
        routes.add(.put, "/v1/conversations/{conversation_id}/settings", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(SettingsBody.self, context: context)
            let user = try await actingUser(request, context)
            let id = try context.conversationID
            _ = try await messaging.updateSettings(id, user: user, muted: body.muted, pinned: body.pinned)
            return try JSONBody.response(try await conversationJSON(id, for: .user(user)))
        }
    }

    /// A user names the other person (naming themselves too is tolerated); the platform names both people.
    private func openDirect(_ body: CreateBody, by actor: MessagingActor) async throws -> (String, created: Bool) {
        for (field, value) in [("name", body.name), ("avatar_url", body.avatar_url), ("description", body.description),
                               ("owner", body.owner?.rawValue)] where value != nil {
            throw ParleyError.invalidField(field, "a direct conversation has no \(field)")
        }
        var members: [UserID] = []
        for member in body.members ?? [] where !members.contains(member) { members.append(member) }
        let user: UserID
        let other: UserID
        switch actor {
        case .user(let me):
            let others = members.filter { $0 != me }
            guard others.count <= 1 else { throw ParleyError.invalidField("members", "a direct conversation has one other person") }
            guard let first = members.first else { throw ParleyError.missingField("members") }
            (user, other) = (me, others.first ?? first)
        case .platform:
            guard members.count == 2 else { throw ParleyError.invalidField("members", "name the two people of the conversation") }
            (user, other) = (members[0], members[1])
        }
        let (conversation, created) = try await messaging.openDirect(by: actor, user: user, with: other)
        return (conversation.id, created)
    }

    /// A user creates a group they own; the platform must say who owns it.
    private func createGroup(_ body: CreateBody, type: ConversationType, by actor: MessagingActor) async throws -> String {
        guard let name = body.name else { throw ParleyError.missingField("name") }
        let owner: UserID
        switch actor {
        case .user(let me):
            if let named = body.owner, named != me {
                throw ParleyError.invalidField("owner", "you own the groups you create; transfer ownership afterwards")
            }
            owner = me
        case .platform:
            guard let named = body.owner else { throw ParleyError.missingField("owner") }
            owner = named
        }
        let conversation = try await messaging.createGroup(
            by: actor, owner: owner, type: type, name: name, avatarURL: body.avatar_url, description: body.description ?? "",
            members: body.members ?? [], membersCanInvite: body.members_can_invite ?? false
        )
        return conversation.id
    }
}
