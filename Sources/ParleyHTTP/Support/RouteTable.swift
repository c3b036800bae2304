import HTTPTypes
import Hummingbird
import ParleyCore

/// One registered route, as the OpenAPI completeness test sees it.
public struct RegisteredRoute: Sendable, Hashable {
    public let method: String
    /// The path in OpenAPI form: `/v1/users/{user_id}`.
    public let path: String
}

/// Registers routes on the router, enforcing each route's access policy, and remembers every route so a
/// test can prove the OpenAPI document describes them all. Used while the application is built, on one task.
public final class RouteTable {
    private let router: Router<ParleyRequestContext>
    private let limiter: any ActionRateLimiter
    public private(set) var routes: [RegisteredRoute] = []

    public init(router: Router<ParleyRequestContext>, limiter: any ActionRateLimiter = NoRateLimits()) {
        self.router = router
        self.limiter = limiter
    }

    /// Adds a route. `path` uses `{name}` for parameters, as OpenAPI does.
    /// With `limit`, end users calling the route count against that action's rate limits (keyed by user, IP,
    /// the `Parley-Device` header and the `conversation_id` path parameter); the platform's API keys are not limited.
    public func add(
        _ method: HTTPRequest.Method, _ path: String, policy: AccessPolicy, limit: RateLimitedAction? = nil,
        _ handler: @escaping @Sendable (Request, ParleyRequestContext) async throws -> Response
    ) {
        routes.append(RegisteredRoute(method: method.rawValue, path: path))
        let routerPath = path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
        let limiter = limiter
        router.on(RouterPath(routerPath), method: method) { request, context in
            try policy.check(context.principal)
            if let limit, case .user(let user, let roles) = context.principal {
                try await limiter.check(limit, keys: RateLimitKeys(
                    user: user, roles: roles, ip: context.remoteIP, device: request.headers[.parleyDevice],
                    conversation: context.parameters.get("conversation_id")
                ))
            }
            return try await handler(request, context)
        }
    }
}

extension HTTPField.Name {
    /// A client-chosen device label, used to key per-device rate limits.
    public static let parleyDevice = HTTPField.Name("Parley-Device")!
}
