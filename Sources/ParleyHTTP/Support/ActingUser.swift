import HTTPTypes
import Hummingbird
import Identity
import ParleyCore

extension HTTPField.Name {
    /// Names the user a server key acts for.
    public static let parleyActAs = HTTPField.Name("Parley-Act-As")!
}

/// Who a request acts for, shared by every controller with user routes: the token's user; the active user
/// a server key names with `Parley-Act-As`; or nobody (a server key without the header acts as the platform).
enum ActingUser {
    /// The acting user, or nil for the platform. A user token with `Parley-Act-As` is refused (it would
    /// hide a client bug or an impersonation attempt).
    static func resolve(_ request: Request, _ context: ParleyRequestContext, users: any UserStore) async throws -> UserID? {
        let actAs = request.headers[.parleyActAs]
        switch try context.requirePrincipal() {
        case .user(let id, _):
            guard actAs == nil else { throw ParleyError.actAsForbidden() }
            return id
        case .apiKey:
            guard let actAs else { return nil }
            let id = try UserID(validating: actAs)
            guard let user = try await users.find(id) else { throw ParleyError.userNotFound(id) }
            guard user.isActive else {
                throw ParleyError(.conflict, code: "identity.user_deactivated", message: "The user '\(id.rawValue)' is deactivated.",
                                  details: ["user_id": .string(id.rawValue)])
            }
            return id
        }
    }

    /// The acting user; throws `auth.act_as_required` for a server key without `Parley-Act-As`.
    static func require(_ request: Request, _ context: ParleyRequestContext, users: any UserStore) async throws -> UserID {
        guard let user = try await resolve(request, context, users: users) else { throw ParleyError.actAsRequired() }
        return user
    }
}
