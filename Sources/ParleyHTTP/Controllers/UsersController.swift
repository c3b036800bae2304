import Foundation
import Hummingbird
import Identity
import ParleyCore

/// The server API for users: the platform upserts, reads, lists and (de)activates them.
public struct UsersController: Sendable {
    let users: any UserStore
    let clock: any WallClock

    public init(users: any UserStore, clock: any WallClock) {
        self.users = users
        self.clock = clock
    }

    struct UpsertBody: RequestBody {
        static let fields: Set<String> = ["name", "avatar_url", "metadata"]
        let name: String?
        let avatar_url: String?
        let metadata: [String: JSONValue]?
    }

    struct UserList: Encodable {
        let items: [UserDTO]
        let next_cursor: String?

        /// Written by hand so `next_cursor` is `null` on the last page rather than absent.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(items, forKey: .items)
            try container.encode(next_cursor, forKey: .next_cursor)
        }

        enum CodingKeys: String, CodingKey { case items, next_cursor }
    }

    public func register(on routes: RouteTable) {
        routes.add(.put, "/v1/users/{user_id}", policy: .apiKey(.server)) { request, context in
            let id = try context.userIDParameter()
            let body = try await request.decodeBody(UpsertBody.self, context: context)
            let profile = try UserProfile(name: body.name, avatarURL: body.avatar_url, metadata: body.metadata)
            let principal = try context.requirePrincipal()
            let (user, created) = try await users.upsert(id, profile: profile, actor: principal.label, at: clock.now())
            return try JSONBody.response(UserDTO(user), status: created ? .created : .ok)
        }
        routes.add(.get, "/v1/users/{user_id}", policy: .apiKey(.server)) { _, context in
            let id = try context.userIDParameter()
            guard let user = try await users.find(id) else { throw ParleyError.userNotFound(id) }
            return try JSONBody.response(UserDTO(user))
        }
        routes.add(.get, "/v1/users", policy: .apiKey(.server)) { request, _ in
            let page = try await users.list(try request.pageRequest())
            return try JSONBody.response(UserList(items: page.items.map(UserDTO.init), next_cursor: page.nextCursor))
        }
        routes.add(.get, "/v1/me", policy: .user) { _, context in
            let (id, _) = try context.requireUser()
            guard let user = try await users.find(id) else { throw ParleyError.userNotFound(id) }
            return try JSONBody.response(UserDTO(user))
        }
        routes.add(.post, "/v1/users/{user_id}/deactivate", policy: .apiKey(.server)) { _, context in
            try await setActive(false, context: context)
        }
        routes.add(.post, "/v1/users/{user_id}/reactivate", policy: .apiKey(.server)) { _, context in
            try await setActive(true, context: context)
        }
    }

    private func setActive(_ active: Bool, context: ParleyRequestContext) async throws -> Response {
        let id = try context.userIDParameter()
        let principal = try context.requirePrincipal()
        guard let user = try await users.setActive(id, active: active, actor: principal.label, at: clock.now()) else {
            throw ParleyError.userNotFound(id)
        }
        return try JSONBody.response(UserDTO(user))
    }
}

/// A user on the wire.
struct UserDTO: Encodable {
    let id: String
    let name: String
    let avatar_url: String?
    let metadata: [String: JSONValue]
    let active: Bool
    let created_at: String
    let updated_at: String
    let deactivated_at: String?

    init(_ user: User) {
        id = user.id.rawValue
        name = user.name
        avatar_url = user.avatarURL
        metadata = user.metadata
        active = user.isActive
        created_at = Timestamp.format(user.createdAt)
        updated_at = Timestamp.format(user.updatedAt)
        deactivated_at = user.deactivatedAt.map(Timestamp.format)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(avatar_url, forKey: .avatar_url)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(active, forKey: .active)
        try container.encode(created_at, forKey: .created_at)
        try container.encode(updated_at, forKey: .updated_at)
        try container.encode(deactivated_at, forKey: .deactivated_at)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, avatar_url, metadata, active, created_at, updated_at, deactivated_at
    }
}
