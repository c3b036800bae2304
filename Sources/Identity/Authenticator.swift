import Foundation
import ParleyCore

/// A check every user credential passes after its signature: how a suspended or banned user's tokens stop
/// working at once, without a revocation list (Moderation implements it; Identity does not know why).
public protocol UserAccessGate: Sendable {
    /// The error to refuse `user` with, or nil to let them in.
    func refusal(for user: UserID) async throws -> ParleyError?
}

/// Turns a bearer credential into a `Principal`: an API key, or a user token whose user exists, is active
/// and passes the access gate.
public struct Authenticator: Sendable {
    let tokens: TokenService
    let apiKeys: APIKeyService
    let users: any UserStore
    let gate: (any UserAccessGate)?

    public init(tokens: TokenService, apiKeys: APIKeyService, users: any UserStore, gate: (any UserAccessGate)? = nil) {
        self.tokens = tokens
        self.apiKeys = apiKeys
        self.users = users
        self.gate = gate
    }

    public func authenticate(bearer credential: String) async throws -> Principal {
        if APIKeyService.looksLikeAPIKey(credential) {
            guard let key = try await apiKeys.authenticate(credential) else { throw ParleyError.invalidAPIKey() }
            return .apiKey(id: key.id, scope: key.scope)
        }
        let (userID, roles) = try tokens.verify(credential)
        guard let user = try await users.find(userID) else { throw ParleyError.unknownUser() }
        guard user.isActive else { throw ParleyError.userDeactivated() }
        if let refusal = try await gate?.refusal(for: userID) { throw refusal }
        return .user(userID, roles: roles)
    }
}
