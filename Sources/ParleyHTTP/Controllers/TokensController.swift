import Foundation
import Hummingbird
import Identity
import ParleyCore

/// The server API that mints user tokens, and the API key administration routes.
public struct TokensController: Sendable {
    let tokens: TokenService
    let users: any UserStore
    let apiKeys: APIKeyService

    public init(tokens: TokenService, users: any UserStore, apiKeys: APIKeyService) {
        self.tokens = tokens
        self.users = users
        self.apiKeys = apiKeys
    }

    struct MintBody: RequestBody {
        static let fields: Set<String> = ["user_id", "roles", "ttl_seconds"]
        let user_id: UserID
        let roles: [String]?
        let ttl_seconds: Int?
    }

    struct MintedToken: Encodable {
        let token: String
        let expires_at: String
        let user_id: String
        let roles: [String]
    }

    struct CreateKeyBody: RequestBody {
        static let fields: Set<String> = ["name", "scope"]
        let name: String?
        let scope: String
    }

    struct KeyDTO: Encodable {
        let id: String
        let name: String
        let scope: String
        let created_at: String
        let revoked_at: String?
        let key: String?

        init(_ key: APIKey, plaintext: String? = nil) {
            id = key.id
            name = key.name
            scope = key.scope.rawValue
            created_at = Timestamp.format(key.createdAt)
            revoked_at = key.revokedAt.map(Timestamp.format)
            self.key = plaintext
        }
    }

    struct KeyList: Encodable {
        let items: [KeyDTO]
    }

    public func register(on routes: RouteTable) {
        routes.add(.post, "/v1/tokens", policy: .apiKey(.server)) { request, context in
            let body = try await request.decodeBody(MintBody.self, context: context)
            var roles: Set<Role> = []
            for name in body.roles ?? ["user"] {
                guard let role = Role(rawValue: name) else {
                    throw ParleyError.invalidField("roles", "unknown role '\(name)'; use user, agent, moderator or admin")
                }
                roles.insert(role)
            }
            if roles.isEmpty { roles = [.user] }
            guard let user = try await users.find(body.user_id) else { throw ParleyError.userNotFound(body.user_id) }
            guard user.isActive else { throw ParleyError(.conflict, code: "identity.user_deactivated", message: "The user is deactivated.") }
            let minted = try tokens.mint(user: body.user_id, roles: roles, ttlSeconds: body.ttl_seconds ?? 3600)
            return try JSONBody.response(MintedToken(
                token: minted.token, expires_at: Timestamp.format(minted.expiresAt), user_id: body.user_id.rawValue,
                roles: Role.allCases.filter(roles.contains).map(\.rawValue)
            ), status: .created)
        }
        routes.add(.post, "/v1/admin/api-keys", policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(CreateKeyBody.self, context: context)
            guard let scope = APIKeyScope(rawValue: body.scope) else {
                throw ParleyError.invalidField("scope", "use 'server' or 'admin'")
            }
            let issued = try await apiKeys.create(name: body.name ?? "", scope: scope)
            return try JSONBody.response(KeyDTO(issued.key, plaintext: issued.plaintext), status: .created)
        }
        routes.add(.get, "/v1/admin/api-keys", policy: .apiKey(.admin)) { _, _ in
            try JSONBody.response(KeyList(items: try await apiKeys.list().map { KeyDTO($0) }))
        }
        routes.add(.delete, "/v1/admin/api-keys/{key_id}", policy: .apiKey(.admin)) { _, context in
            let id = context.parameters.get("key_id") ?? ""
            guard try await apiKeys.revoke(id: id) else {
                throw ParleyError(.notFound, code: "identity.api_key_not_found", message: "No API key '\(id)'.")
            }
            return Response(status: .noContent)
        }
    }
}
