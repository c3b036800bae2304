import Foundation
import ParleyCore

/// Turns a bearer credential into a `Principal`: an API key, or a user token whose user exists and is active.
public struct Authenticator: Sendable {
    let tokens: TokenService
    let apiKeys: APIKeyService
    let users: any UserStore

    public init(tokens: TokenService, apiKeys: APIKeyService, users: any UserStore) {
        self.tokens = tokens
        self.apiKeys = apiKeys
        self.users = users
    }

    public func authenticate(bearer credential: String) async throws -> Principal {
        if APIKeyService.looksLikeAPIKey(credential) {
            guard let key = try await apiKeys.authenticate(credential) else { throw ParleyError.invalidAPIKey() }
            return .apiKey(id: key.id, scope: key.scope)
        }
        let (userID, roles) = try tokens.verify(credential)
        guard let user = try await users.find(userID) else { throw ParleyError.unknownUser() }
        guard user.isActive else { throw ParleyError.userDeactivated() }
        return .user(userID, roles: roles)
    }
}
