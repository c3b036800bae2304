import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization

/// A real HTTP server on a loopback port that records every request it gets and answers from a script:
/// the platform's side of webhooks and before-send hooks.
public final class TestReceiver: Sendable {
    public struct Reply: Sendable {
        public var status: Int = 200
        public var body: String = "{}"
        /// How long to wait before answering.
        public var delay: Duration = .zero

        public init(status: Int = 200, body: String = "{}", delay: Duration = .zero) {
            self.status = status
            self.body = body
            self.delay = delay
        }
    }

    public struct Received: Sendable {
        /// Header names lowercased.
        public let headers: [String: String]
        public let body: Data
        public let path: String

        public subscript(header name: String) -> String? { headers[name.lowercased()] }
    }

    private struct State {
        var script: [Reply] = []
        var fallback = Reply()
        public var received: [Received] = []
    }

    private let state = Mutex(State())
    public let port: Int

    private init(port: Int) { self.port = port }

    public var url: String { "http://127.0.0.1:\(port)/hook" }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Answers the next requests with `replies`, in order, then with `fallback`.
    public func script(_ replies: [Reply], fallback: Reply = Reply()) {
        state.withLock { state in
            state.script = replies
            state.fallback = fallback
        }
    }

    public var received: [Received] { state.withLock { $0.received } }

    public func reset() { state.withLock { $0.received = [] } }

    private func next(_ request: Received) -> Reply {
        state.withLock { state in
            state.received.append(request)
            return state.script.isEmpty ? state.fallback : state.script.removeFirst()
        }
    }

    /// Runs `body` while a receiver listens on 127.0.0.1 (any path).
    public static func run<T: Sendable>(_ body: @Sendable (TestReceiver) async throws -> T) async throws -> T {
        let box = Mutex<TestReceiver?>(nil)
        let router = Router()
        router.post("**") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let received = Received(headers: headers, body: Data(buffer: buffer), path: request.uri.path)
            guard let receiver = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            let reply = receiver.next(received)
            if reply.delay > .zero { try? await Task.sleep(for: reply.delay) }
            return Response(status: .init(code: reply.status), headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: reply.body)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestDatabases.logger)
        return try await app.test(.live) { client in
            guard let port = client.port else { throw TestDatabaseError("the receiver has no port") }
            let receiver = TestReceiver(port: port)
            box.withLock { $0 = receiver }
            return try await body(receiver)
        }
    }
}
