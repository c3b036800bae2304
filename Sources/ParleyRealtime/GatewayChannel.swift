import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ParleyCore
import ParleyHTTP

/// Hummingbird's child channel for Parley: HTTP/1.1, with `GET /v1/ws` upgraded to the WebSocket gateway.
///
/// Unlike Hummingbird's own WebSocket channel, an upgraded connection is not given a task that lives as
/// long as it does: the upgrade installs `GatewayConnection` (a channel handler) and `handle` returns.
/// An idle connection then costs only its channel and session, which is what lets one node hold tens of
/// thousands of them (bench/README.md, idle connections).
struct GatewayChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        /// The connection now belongs to its WebSocket handlers; nothing is left to do here.
        case webSocket
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade was asked for on another path, or was malformed: 400.
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let gateway: Gateway
    let http1 = HTTP1Channel.Configuration()

    init(responder: @escaping HTTPChannelHandler.Responder, gateway: Gateway) {
        self.responder = responder
        self.gateway = gateway
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Receive buffers start at 512 bytes instead of 2,048 and grow when reads fill them. A channel keeps
            // its receive buffer for reuse, so on an idle WebSocket (whose frames are small) the default would be
            // 2 KB of the connection's memory for nothing. Set before the first read, so the upgrade's own buffer
            // is already the small one.
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)
            )
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let admission = NIOLoopBoundBox<Gateway.Admission?>(nil, eventLoop: channel.eventLoop)
            let gateway = gateway
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: gateway.settings.maxFrameSize,
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    let uri = URI(head.uri)
                    guard uri.path == "/v1/ws" else { return channel.eventLoop.makeSucceededFuture(nil) }
                    let authorization = head.headers.first(name: "authorization")
                    let queryToken = uri.queryParameters["token"].map(String.init)
                    let remoteIP = gateway.settings.trustedProxies.clientAddress(
                        peer: channel.remoteAddress?.ipAddress, forwarded: head.headers["Forwarded"],
                        forwardedFor: head.headers["X-Forwarded-For"]
                    )
                    let promise = channel.eventLoop.makePromise(of: Gateway.Admission.self)
                    promise.completeWithTask {
                        await gateway.admit(authorization: authorization, queryToken: queryToken, remoteIP: remoteIP)
                    }
                    return promise.futureResult.map { decided in
                        admission.value = decided
                        return HTTPHeaders()
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        try operations.addHandler(NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 256,
                            maxAccumulatedFrameSize: gateway.settings.maxFrameSize
                        ))
                        switch admission.value {
                        case .accepted(let user, let roles, let remoteIP):
                            try operations.addHandler(gateway.connection(user: user, roles: roles, remoteIP: remoteIP, channel: channel,
                                                                         logger: logger))
                        case .refused(let error):
                            try operations.addHandler(RefusedConnection(error))
                        case nil:
                            channel.close(promise: nil)
                        }
                        return UpgradeResult.webSocket
                    }
                }
            )
            let serverUpgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return upgradeAttempted.value ? UpgradeResult.failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: serverUpgrade)
            configuration.enablePipelining = false  // NIOAsyncChannel pipelines HTTP
            configuration.enableErrorHandling = false  // Hummingbird answers errors
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validates headers
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                return
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                try await http1.executeThenClose { _, outbound in
                    let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
                    try await outbound.write(contentsOf: [.head(head), .end(nil)])
                }
            }
        } catch {
            logger.debug("connection ended before or during its upgrade", metadata: ["error": "\(error)"])
        }
    }
}

/// An upgraded connection whose credentials were refused: it is told why and closed.
///
/// A failed HTTP upgrade could only say 400 (the WebSocket library writes that for every refusal), and
/// browsers cannot read an upgrade's status at all; an `error` frame and a close code of 4000 + the HTTP
/// status (4401, 4403, 4429, 4503) they can. No session and no hub entry exist for such a connection.
final class RefusedConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let error: ParleyError
    private var deadline: Scheduled<Void>?

    init(_ error: ParleyError) {
        self.error = error
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let allocator = context.channel.allocator
        context.write(wrapOutboundOut(.text(FrameCodec.error(id: nil, error), allocator: allocator)), promise: nil)
        let status = ErrorMiddleware.status(for: error.kind).code
        context.writeAndFlush(wrapOutboundOut(.close(.init(codeNumber: 4000 + status), reason: String(error.code.prefix(100)),
                                                     allocator: allocator)), promise: nil)
        // The client answers with its own close frame; one that does not is closed anyway.
        deadline = context.eventLoop.scheduleTask(in: .seconds(5)) { [channel = context.channel] in channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).opcode == .connectionClose { context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
