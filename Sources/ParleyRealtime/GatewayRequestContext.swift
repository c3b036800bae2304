import Hummingbird
import HummingbirdWebSocket
import NIOCore
import ParleyCore

/// The request context of the WebSocket route: the authenticated user and the connection's channel
/// (kept so a session that falls hopelessly behind can be closed at once).
public struct GatewayRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel
    var user: UserID?
    var roles: Set<Role> = []
    /// Why the upgrade's credentials were refused; the connection is upgraded only to say so and close.
    var refusal: ParleyError?

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}
