import HTTPTypes
import Hummingbird

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
    public private(set) var routes: [RegisteredRoute] = []

    public init(router: Router<ParleyRequestContext>) {
        self.router = router
    }

    /// Adds a route. `path` uses `{name}` for parameters, as OpenAPI does.
    public func add(
        _ method: HTTPRequest.Method, _ path: String, policy: AccessPolicy,
        _ handler: @escaping @Sendable (Request, ParleyRequestContext) async throws -> Response
    ) {
        routes.append(RegisteredRoute(method: method.rawValue, path: path))
        let routerPath = path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
        router.on(RouterPath(routerPath), method: method) { request, context in
            try policy.check(context.principal)
            return try await handler(request, context)
        }
    }
}
