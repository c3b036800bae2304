import ParleyCore
/// Limits of the WebSocket gateway.
public struct GatewaySettings: Sendable {
    /// Largest inbound message, in bytes; larger frames close the connection (1009, message too big).
    public var maxFrameSize = 64 * 1024
    /// Frames a connection may hold queued for sending before it is considered too slow.
    public var outboundQueueCapacity = 1024
    /// Inbound frames per second per connection, and the burst above that.
    public var inboundRate = 50.0
    public var inboundBurst = 200.0
    /// Inbound frames a connection may have waiting to be handled before its socket is no longer read.
    public var inboundQueueCapacity = 64
    /// How often the server pings; a client that has not answered one ping by the next is disconnected.
    public var pingIntervalSeconds = 30.0
    /// Users one connection may watch for presence.
    public var maxPresenceSubscriptions = 1000
    /// How long a connection may stay without sending `hello`.
    public var helloTimeoutSeconds = 30.0
    /// How long authenticating an upgrade may take before the client is told to come back (503).
    public var admissionTimeoutSeconds = 10.0
    /// Proxies whose `X-Forwarded-For` names the client (for rate limits by address); nobody by default.
    public var trustedProxies = TrustedProxies()

    public init() {}
}
