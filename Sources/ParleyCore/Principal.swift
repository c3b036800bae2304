/// A role a user token may carry. Roles widen what a user may do; membership still decides what they may see.
public enum Role: String, Sendable, Codable, CaseIterable, Hashable {
    case user
    case agent
    case moderator
    case admin
}

/// What an API key may do. `admin` includes everything `server` may do.
public enum APIKeyScope: String, Sendable, Codable, CaseIterable, Hashable {
    case server
    case admin

    /// Whether a key with this scope satisfies a route that requires `required`.
    public func covers(_ required: APIKeyScope) -> Bool {
        switch (self, required) {
        case (.admin, _), (.server, .server): true
        case (.server, .admin): false
        }
    }
}

/// Who is making a request: an end user with a token, or the platform's backend with an API key.
public enum Principal: Sendable, Equatable {
    case user(UserID, roles: Set<Role>)
    case apiKey(id: String, scope: APIKeyScope)

    public var userID: UserID? {
        if case .user(let id, _) = self { return id }
        return nil
    }

    public func hasRole(_ role: Role) -> Bool {
        if case .user(_, let roles) = self { return roles.contains(role) }
        return false
    }

    /// A short label for logs and the audit trail: `user:alice`, `key:k_1a2b`.
    public var label: String {
        switch self {
        case .user(let id, _): "user:\(id.rawValue)"
        case .apiKey(let id, _): "key:\(id)"
        }
    }
}
