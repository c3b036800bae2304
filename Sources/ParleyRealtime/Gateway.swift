import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Identity
import Logging
import Messaging
import NIOCore
import ParleyCore
import ParleyHTTP

/// The WebSocket gateway: authenticates before the upgrade, then runs each connection as two loops
/// (inbound frames, outbound queue) over a `Session`.
public struct Gateway: Sendable {
    let authenticator: Authenticator
    let messaging: MessagingService
    let hub: ConnectionHub
    let clock: any WallClock
    let ids: any IDGenerator
    let settings: GatewaySettings
    let limiter: any ActionRateLimiter
    /// Called once per connection after `hello`: the composition root records it as a `user.connected` event.
    let recordConnection: @Sendable (UserID, String?) async -> Void

    public init(authenticator: Authenticator, messaging: MessagingService, live: LiveFanout, clock: any WallClock,
                ids: any IDGenerator, settings: GatewaySettings = GatewaySettings(), limiter: any ActionRateLimiter = NoRateLimits(),
                recordConnection: @escaping @Sendable (UserID, String?) async -> Void = { _, _ in }) {
        self.authenticator = authenticator
        self.messaging = messaging
        self.hub = live.hub
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.limiter = limiter
        self.recordConnection = recordConnection
    }

    /// The router that serves `GET /v1/ws` upgrades.
    public func buildRouter() -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: GatewayAuthMiddleware(authenticator: authenticator, limiter: limiter))
        router.ws("/v1/ws") { _, context in
            context.user == nil && context.refusal == nil ? .dontUpgrade : .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            if let refusal = context.requestContext.refusal {
                await refuse(refusal, outbound: outbound)
                return
            }
            guard let user = context.requestContext.user else { return }
            await run(user: user, roles: context.requestContext.roles, channel: context.requestContext.channel,
                      inbound: inbound, outbound: outbound, logger: context.logger)
        }
        return router
    }

    /// Tells a client why it may not connect, then closes. A failed HTTP upgrade would only say 400 (the
    /// WebSocket library writes that for every refusal), and browsers cannot read an upgrade's status at
    /// all; an `error` frame and a close code of 4000 + the HTTP status (4401, 4403, 4429) they can. No
    /// session, no hub entry and no read loop exist for such a connection.
    func refuse(_ error: ParleyError, outbound: WebSocketOutboundWriter) async {
        try? await outbound.write(.text(FrameCodec.error(id: nil, error)))
        let status = ErrorMiddleware.status(for: error.kind).code
        try? await outbound.close(.unknown(UInt16(4000 + status)), reason: String(error.code.prefix(100)))
    }

    /// The WebSocket server configuration matching the gateway's limits.
    public var serverConfiguration: WebSocketServerConfiguration {
        WebSocketServerConfiguration(maxFrameSize: settings.maxFrameSize, autoPing: .enabled(timePeriod: .seconds(30)))
    }

    func run(user: UserID, roles: Set<Role>, channel: any Channel, inbound: WebSocketInboundStream,
             outbound: WebSocketOutboundWriter, logger: Logger) async {
        let session = Session(id: ids.next(prefix: "s_"), user: user, roles: roles, queueCapacity: settings.outboundQueueCapacity,
                              channel: channel)
        let handler = SessionHandler(gateway: self, session: session, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let text = await session.queue.next() {
                    do {
                        try await outbound.write(.text(text))
                    } catch {
                        break
                    }
                }
                try? await outbound.close(.normalClosure, reason: nil)
            }
            group.addTask {
                await handler.readLoop(inbound)
                session.finish()
            }
            group.addTask {
                // A connection that never says hello is closed after a while, so idle sockets cannot pile up.
                try? await Task.sleep(for: .seconds(settings.helloTimeoutSeconds))
                guard !Task.isCancelled else { return }
                if !handler.saidHello {
                    session.reply(FrameCodec.error(id: nil, ParleyError(.badRequest, code: "gateway.hello_timeout",
                                                                        message: "Send hello first.")))
                    return
                }
                // Said hello in time: this task has nothing more to do but must not end the connection.
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
            await group.next()
            // The first task to end ends the connection: queued frames still drain, the rest is cancelled.
            session.finish()
            hub.detach(session)
            group.cancelAll()
        }
        hub.detach(session)
    }
}

/// Reads the bearer credential of the upgrade request from `Authorization` or `?token=` and accepts only user tokens.
struct GatewayAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authenticator: Authenticator
    let limiter: any ActionRateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var credential: String?
        if let header = request.headers[.authorization] {
            credential = AuthMiddleware.bearerCredential(header)
        } else if let token = request.uri.queryParameters["token"] {
            credential = String(token)
        }
        do {
            guard let credential else { throw ParleyError.missingCredentials() }
            let principal = try await authenticator.authenticate(bearer: credential)
            guard case .user(let user, let roles) = principal else { throw ParleyError.userTokenRequired() }
            // Connecting counts as a login: reconnect storms from one user or address are throttled here.
            try await limiter.check(.login, keys: RateLimitKeys(user: user, roles: roles, ip: context.channel.remoteAddress?.ipAddress))
            var context = context
            context.user = user
            context.roles = roles
            return try await next(request, context)
        } catch let error as ParleyError {
            // An upgrade request is upgraded only to be told why and closed (see `Gateway.refuse`); a plain GET gets
            // the JSON error.
            guard request.headers[.upgrade]?.lowercased() == "websocket" else { return ErrorMiddleware.response(for: error, requestID: nil) }
            var context = context
            context.refusal = error
            return try await next(request, context)
        }
    }
}
