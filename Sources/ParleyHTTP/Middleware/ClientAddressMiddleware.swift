import HTTPTypes
import Hummingbird
import ParleyCore

/// Behind a trusted proxy, takes the client's address from `Forwarded` or `X-Forwarded-For` (see `TrustedProxies`), so rate limits
/// by address count clients rather than the proxy.
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = ParleyRequestContext
    let trusted: TrustedProxies

    public init(trusted: TrustedProxies) {
        self.trusted = trusted
    }

    public func handle(_ request: Request, context: ParleyRequestContext,
                       next: (Request, ParleyRequestContext) async throws -> Response) async throws -> Response {
        guard !trusted.isEmpty else { return try await next(request, context) }
        var context = context
        context.remoteIP = trusted.clientAddress(peer: context.remoteIP, forwarded: request.headers[values: .forwarded],
                                                 forwardedFor: request.headers[values: .xForwardedFor])
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    public static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    public static let forwarded = HTTPField.Name("Forwarded")!
}
