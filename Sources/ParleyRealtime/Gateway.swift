import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Identity
import Logging
import Messaging
import NIOCore
import ParleyCore
import ParleyHTTP

/// The WebSocket gateway: authenticates before the upgrade, then runs each connection as a channel
/// handler (`GatewayConnection`) over a `Session`.
public struct Gateway: Sendable {
    let authenticator: Authenticator
    let messaging: MessagingService
    let hub: ConnectionHub
    let relay: SignalRelay
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
        self.relay = live.signalRelay
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.limiter = limiter
        self.recordConnection = recordConnection
    }

    /// The HTTP server with this gateway on `GET /v1/ws`: every other request goes to `responder`.
    public var serverBuilder: HTTPServerBuilder {
        HTTPServerBuilder { responder in GatewayChannel(responder: responder, gateway: self) }
    }

    /// Whether an upgrade request may connect, and as whom.
    enum Admission: Sendable {
        /// With the client's address (the socket's peer, or what a trusted proxy forwarded).
        case accepted(UserID, Set<Role>, remoteIP: String?)
        /// Upgraded only to be told why and closed (see `RefusedConnection`).
        case refused(ParleyError)
    }

    /// Reads the bearer credential of the upgrade request from `Authorization` or `?token=` and accepts only
    /// user tokens. Connecting counts as a login, so reconnect storms from one user or address are throttled.
    /// An answer that takes longer than `admissionTimeoutSeconds` (the database is overloaded) is a refusal
    /// with 503, so the client is told to come back rather than left waiting.
    func admit(authorization: String?, queryToken: String?, remoteIP: String?) async -> Admission {
        await withTaskGroup(of: Admission?.self) { group in
            group.addTask {
                do {
                    var credential: String?
                    if let authorization {
                        credential = AuthMiddleware.bearerCredential(authorization)
                    } else {
                        credential = queryToken
                    }
                    guard let credential else { throw ParleyError.missingCredentials() }
                    let principal = try await authenticator.authenticate(bearer: credential)
                    guard case .user(let user, let roles) = principal else { throw ParleyError.userTokenRequired() }
                    try await limiter.check(.login, keys: RateLimitKeys(user: user, roles: roles, ip: remoteIP))
                    return .accepted(user, roles, remoteIP: remoteIP)
                } catch let error as ParleyError {
                    return .refused(error)
                } catch {
                    return .refused(.gatewayUnavailable)
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(settings.admissionTimeoutSeconds))
                return Task.isCancelled ? nil : .refused(.gatewayUnavailable)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .refused(.gatewayUnavailable)
        }
    }

    /// The handler of an accepted connection, with its session.
    func connection(user: UserID, roles: Set<Role>, remoteIP: String?, channel: any Channel, logger: Logger) -> GatewayConnection {
        let session = Session(id: ids.next(prefix: "s_"), user: user, roles: roles, queueCapacity: settings.outboundQueueCapacity,
                              channel: channel, remoteIP: remoteIP)
        let handler = SessionHandler(gateway: self, session: session, logger: logger)
        return GatewayConnection(session: session, sessionHandler: handler, hub: hub, settings: settings)
    }
}


extension ParleyError {
    /// The server could not check a connection's credentials in time (or at all): come back shortly.
    static let gatewayUnavailable = ParleyError(.unavailable, code: "gateway.unavailable",
                                                message: "The server is busy; try again shortly.", retryAfter: 1)
}
