import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The WebSocket end of one connection, after the upgrade: hands text frames to its peer, answers pings,
/// and batches writes made while reading into one flush.
final class WebSocketHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let peer: Peer
    private var context: ChannelHandlerContext?
    private var fragments: ByteBuffer?
    private var reading = false
    private var needsFlush = false

    init(peer: Peer) {
        self.peer = peer
    }

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        peer.attached(self)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.detached(self)
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        reading = true
        switch frame.opcode {
        case .text:
            if frame.fin {
                peer.receive(frame.unmaskedData, at: monotonicNanos())
            } else {
                fragments = frame.unmaskedData
            }
        case .continuation:
            if var buffer = fragments {
                var data = frame.unmaskedData
                buffer.writeBuffer(&data)
                if frame.fin {
                    fragments = nil
                    peer.receive(buffer, at: monotonicNanos())
                } else {
                    fragments = buffer
                }
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.write(wrapOutboundOut(pong), promise: nil)
            needsFlush = true
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func send(text: String) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        send(buffer)
        flushIfOutsideRead()
    }

    /// Writes one masked text frame (flushed at the end of the current read, or by `flushIfOutsideRead`).
    func send(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer)), promise: nil)
        needsFlush = true
    }

    func flushIfOutsideRead() {
        guard !reading, needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    func close() {
        context?.close(promise: nil)
    }
}

/// Sends the HTTP/1.1 upgrade request (with the user's token) and reports a refusal (401, 429, ...).
final class UpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let peer: Peer
    let target: ServerTarget
    private var status: Int?
    private var body = ""

    init(peer: Peer, target: ServerTarget) {
        self.peer = peer
        self.target = target
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(target.host):\(target.port)")
        headers.add(name: "Authorization", value: "Bearer \(peer.token)")
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.webSocketPath, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(let buffer):
            if body.utf8.count < 400 { body += String(buffer: buffer) }
        case .end:
            peer.failConnect(BenchError("upgrade refused for \(peer.user): HTTP \(status ?? 0) \(body.prefix(300))"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        peer.failConnect(BenchError("upgrade failed for \(peer.user): \(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.failConnect(BenchError("connection closed during the upgrade for \(peer.user)"))
        context.fireChannelInactive()
    }
}

enum WebSocketConnector {
    /// Opens a WebSocket connection for `peer` on its event loop and says hello (resuming when asked).
    /// Succeeds when hello_ok and the frames it announced as missed have arrived.
    static func connect(_ peer: Peer, to target: ServerTarget, resume: Bool = false) -> EventLoopFuture<Void> {
        let promise = peer.loop.makePromise(of: Void.self)
        peer.loop.execute {
            peer.beginConnect(promise, resume: resume)
            var bootstrap = ClientBootstrap(group: peer.loop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(15))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let request = UpgradeRequestHandler(peer: peer, target: target)
                        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, automaticErrorHandling: true) { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(WebSocketHandler(peer: peer))
                            }
                        }
                        let configuration: NIOHTTPClientUpgradeSendableConfiguration = (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(request, promise: nil)
                            }
                        )
                        try channel.pipeline.syncOperations.addHTTPClientHandlers(withClientUpgrade: configuration)
                        try channel.pipeline.syncOperations.addHandler(request)
                    }
                }
            if let source = peer.sourceAddress { bootstrap = bootstrap.bind(to: source) }
            bootstrap.connect(host: target.host, port: target.port).whenFailure { error in
                peer.failConnect(BenchError("connect failed for \(peer.user): \(error)"))
            }
        }
        return promise.futureResult
    }
}
