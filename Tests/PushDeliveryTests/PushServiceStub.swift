import Foundation
import Hummingbird
import HummingbirdHTTP2
import NIOCore
import NIOSSL
import ParleyTestSupport
import Synchronization

/// A real HTTP server on a loopback port standing in for a push service: plain HTTP/1.1, or HTTP/2 over TLS
/// (negotiated by ALPN, like APNs). It records every request and answers with what `handler` returns.
final class PushServiceStub: Sendable {
    struct Received: Sendable {
        let method: String
        let path: String
        /// Header names lowercased.
        let headers: [String: String]
        let body: Data
        /// Whether the request came as an HTTP/2 stream rather than over an HTTP/1.1 connection.
        let isHTTP2: Bool

        subscript(header name: String) -> String? { headers[name.lowercased()] }
    }

    struct Reply: Sendable {
        var status: Int = 200
        var body: String = "{}"
    }

    typealias Handler = @Sendable (Received) async -> Reply

    /// The request context of the stub's router: it notes how the request arrived. An HTTP/2 request is
    /// handled on a stream channel, a child of the TLS connection's channel, itself a child of the listening
    /// socket; an HTTP/1.1 request is handled on the connection channel, whose parent (the listener) has none.
    struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        let isHTTP2: Bool

        init(source: ApplicationRequestContextSource) {
            self.coreContext = .init(source: source)
            self.isHTTP2 = source.channel.parent?.parent != nil
        }
    }

    let port: Int
    let scheme: String
    private let log = Mutex<[Received]>([])

    private init(port: Int, scheme: String) {
        self.port = port
        self.scheme = scheme
    }

    var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    func url(_ path: String) -> String { baseURL + path }

    var received: [Received] { log.withLock { $0 } }

    private func record(_ request: Received) {
        log.withLock { $0.append(request) }
    }

    /// Runs `body` while the stub listens on 127.0.0.1; with `tls`, it speaks HTTP/2 (or HTTP/1.1 if the
    /// client does not offer h2) over TLS.
    static func run<T: Sendable>(
        tls: TLSConfiguration? = nil, handler: @escaping Handler, _ body: @Sendable (PushServiceStub) async throws -> T
    ) async throws -> T {
        let box = Mutex<PushServiceStub?>(nil)
        let router = Router(context: Context.self)
        router.post("**") { request, context -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let received = Received(
                method: request.method.rawValue, path: request.uri.path, headers: headers, body: Data(buffer: buffer),
                isHTTP2: context.isHTTP2
            )
            guard let stub = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            stub.record(received)
            let reply = await handler(received)
            return Response(
                status: .init(code: reply.status), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: reply.body))
            )
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let configuration = ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0))
        // Stopping the stub by cancellation makes Hummingbird log the interrupted connections as errors;
        // a failure that matters shows up as a failed expectation instead.
        var logger = TestDatabases.logger
        logger.logLevel = .critical
        let onServerRunning: @Sendable (any Channel) async -> Void = { channel in
            portSink.yield(channel.localAddress?.port ?? 0)
            portSink.finish()
        }
        let app = if let tls {
            Application(
                router: router, server: try .http2Upgrade(tlsConfiguration: tls), configuration: configuration,
                onServerRunning: onServerRunning, logger: logger
            )
        } else {
            Application(
                router: router, server: .http1(), configuration: configuration, onServerRunning: onServerRunning, logger: logger
            )
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portSink.finish() }
                try await app.runService(gracefulShutdownSignals: [])
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                try await group.next()
                throw StubError("the push service stub did not start")
            }
            let stub = PushServiceStub(port: port, scheme: tls == nil ? "http" : "https")
            box.withLock { $0 = stub }
            let result = try await body(stub)
            group.cancelAll()
            return result
        }
    }
}

struct StubError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
