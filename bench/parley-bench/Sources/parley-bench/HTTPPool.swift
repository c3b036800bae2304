import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 keep-alive client for setup calls: a few connections, one request at a time on each.
final class HTTPPool: Sendable {
    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }

        func json() -> [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        }
    }

    private let connections: [HTTPConnection]
    private let next = Atomic<Int>(0)
    let target: ServerTarget

    private init(connections: [HTTPConnection], target: ServerTarget) {
        self.connections = connections
        self.target = target
    }

    static func connect(group: any EventLoopGroup, target: ServerTarget, size: Int) async throws -> HTTPPool {
        var connections: [HTTPConnection] = []
        for _ in 0..<max(1, size) {
            let handler = HTTPConnection(target: target)
            _ = try await ClientBootstrap(group: group)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: target.host, port: target.port).get()
            connections.append(handler)
        }
        return HTTPPool(connections: connections, target: target)
    }

    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], json: String? = nil) async throws -> Response {
        let connection = connections[next.add(1, ordering: .relaxed).oldValue % connections.count]
        return try await connection.request(method, path, headers: headers, json: json)
    }

    func close() async {
        for connection in connections { connection.close() }
    }
}

/// One keep-alive connection: requests queue up and go out one at a time.
final class HTTPConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    struct Pending {
        var head: HTTPRequestHead
        var body: ByteBuffer?
        var promise: EventLoopPromise<HTTPPool.Response>
    }

    let target: ServerTarget
    /// Only touched on the channel's event loop.
    private var context: ChannelHandlerContext?
    /// The channel, for callers on other threads (a `Channel` may be used from any thread; its context may not).
    private let channel = Mutex<(any Channel)?>(nil)
    private var queue: [Pending] = []
    private var current: Pending?
    private var status = 0
    private var body: [UInt8] = []

    init(target: ServerTarget) {
        self.target = target
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel.withLock { $0 = context.channel }
    }

    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)], json: String?) async throws -> HTTPPool.Response {
        guard let loop = channel.withLock({ $0?.eventLoop }) else { throw BenchError("HTTP connection is not open") }
        let promise = loop.makePromise(of: HTTPPool.Response.self)
        loop.execute {
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: "\(self.target.host):\(self.target.port)")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            var buffer: ByteBuffer?
            if let json {
                buffer = ByteBuffer(string: json)
                head.headers.add(name: "Content-Type", value: "application/json")
            }
            head.headers.add(name: "Content-Length", value: "\(buffer?.readableBytes ?? 0)")
            self.queue.append(Pending(head: head, body: buffer, promise: promise))
            self.sendNext()
        }
        return try await promise.futureResult.get()
    }

    private func sendNext() {
        guard current == nil, !queue.isEmpty, let context else { return }
        let pending = queue.removeFirst()
        current = pending
        status = 0
        body = []
        context.write(wrapOutboundOut(.head(pending.head)), promise: nil)
        if let buffer = pending.body { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            let done = current
            current = nil
            done?.promise.succeed(HTTPPool.Response(status: status, body: body))
            sendNext()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = BenchError("HTTP connection closed")
        current?.promise.fail(error)
        current = nil
        for pending in queue { pending.promise.fail(error) }
        queue = []
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func close() {
        channel.withLock { $0 }?.close(promise: nil)
    }
}
