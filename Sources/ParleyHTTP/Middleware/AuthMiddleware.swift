import Hummingbird
import Identity
import ParleyCore

/// Authenticates `Authorization: Bearer <credential>` when present and stores the principal in the context.
///
/// A request without the header stays anonymous (each route's policy decides whether that is allowed);
/// a request with a bad credential is refused here, so a typo never silently downgrades to anonymous.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = ParleyRequestContext
    let authenticator: Authenticator

    public init(authenticator: Authenticator) {
        self.authenticator = authenticator
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return try await next(request, context)
        }
        guard let credential = Self.bearerCredential(header) else {
            throw ParleyError(.unauthorized, code: "auth.malformed_header", message: "Use 'Authorization: Bearer <credential>'.")
        }
        var context = context
        context.principal = try await authenticator.authenticate(bearer: credential)
        return try await next(request, context)
    }

    public static func bearerCredential(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let credential = parts[1].trimmingCharacters(in: .whitespaces)
        return credential.isEmpty ? nil : credential
    }
}
