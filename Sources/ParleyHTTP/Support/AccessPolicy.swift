import ParleyCore

/// Who may call a route. Each route names one policy; the route table enforces it before the handler runs,
/// so handlers never repeat role or scope checks.
public enum AccessPolicy: Sendable {
    /// Anyone, authenticated or not (health probes, the OpenAPI document).
    case anonymous
    /// The platform's backend, with an API key of at least this scope.
    case apiKey(APIKeyScope)
    /// An end user with a token.
    case user
    /// An end user holding this role (admins hold every role's powers).
    case userWithRole(Role)
    /// An end user, or the platform's backend acting on a user's behalf with a `server` key.
    case userOrServer
    /// An end user holding this role (or admin), or the platform's backend with an API key of at least this scope
    /// (moderation tools the platform's own back office may drive).
    case userWithRoleOrAPIKey(Role, APIKeyScope)

    /// Throws the `auth.*` error that explains why `principal` may not call the route.
    public func check(_ principal: Principal?) throws(ParleyError) {
        switch self {
        case .anonymous:
            return
        case .apiKey(let required):
            switch principal {
            case nil: throw ParleyError.missingCredentials()
            case .user: throw ParleyError.apiKeyRequired()
            case .apiKey(_, let scope): guard scope.covers(required) else { throw ParleyError.insufficientScope(required) }
            }
        case .user:
            switch principal {
            case nil: throw ParleyError.missingCredentials()
            case .apiKey: throw ParleyError.userTokenRequired()
            case .user: return
            }
        case .userWithRole(let role):
            switch principal {
            case nil: throw ParleyError.missingCredentials()
            case .apiKey: throw ParleyError.userTokenRequired()
            case .user(_, let roles): guard roles.contains(role) || roles.contains(.admin) else { throw ParleyError.missingRole(role) }
            }
        case .userOrServer:
            guard principal != nil else { throw ParleyError.missingCredentials() }
        case .userWithRoleOrAPIKey(let role, let required):
            switch principal {
            case nil: throw ParleyError.missingCredentials()
            case .apiKey(_, let scope): guard scope.covers(required) else { throw ParleyError.insufficientScope(required) }
            case .user(_, let roles): guard roles.contains(role) || roles.contains(.admin) else { throw ParleyError.missingRole(role) }
            }
        }
    }

    /// How the OpenAPI document describes the policy.
    var securityDescription: String {
        switch self {
        case .anonymous: "none"
        case .apiKey(let scope): "API key (scope \(scope.rawValue))"
        case .user: "user token"
        case .userWithRole(let role): "user token with role \(role.rawValue)"
        case .userOrServer: "user token, or API key (scope server)"
        case .userWithRoleOrAPIKey(let role, let scope): "user token with role \(role.rawValue), or API key (scope \(scope.rawValue))"
        }
    }
}
