import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import Messaging
import Moderation
import NIOCore
import ParleyApp
import ParleyCore
import ParleyRealtime
import ParleyStorage
import ParleyTestSupport
import Synchronization

/// A real Parley server on a loopback port (HTTP and WebSocket) over a fresh database.
struct LiveServer: Sendable {
    let services: ParleyServices
    let serverKey: String
    let port: Int
    let live: LiveFanout

    /// `floodDetection: false` turns off Moderation's flood and duplicate checks, for tests that send many
    /// messages quickly on purpose.
    static func run(
        _ engine: DatabaseEngine, gateway: GatewaySettings = GatewaySettings(), floodDetection: Bool = true,
        rateLimitPolicy: RateLimitPolicy = .defaults,
        _ body: @Sendable (LiveServer, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabases.withConfiguration(engine) { configuration in
            let database = try await Database.open(configuration, logger: TestDatabases.logger)
            try await database.withRunningPool { database in
                let services = ParleyServices(database: database, secret: SymmetricKey(size: .bits256),
                                              floodSettings: floodDetection ? FloodSettings() : nil, rateLimitPolicy: rateLimitPolicy)
                _ = try await services.migrate()
                let key = try await services.apiKeys.create(name: "server", scope: .server).plaintext
                let (app, live) = ParleyServer.makeApplication(
                    services: services, address: .hostname("127.0.0.1", port: 0), logger: TestDatabases.logger,
                    gatewaySettings: gateway, embedLiveFanout: true
                )
                try await app.test(.live) { client in
                    guard let port = client.port else { throw TestDatabaseError("no port") }
                    try await body(LiveServer(services: services, serverKey: key, port: port, live: live), client)
                }
            }
        }
    }

    /// Creates the user and returns a token for them.
    func token(_ user: String) async throws -> String {
        let id = try UserID(validating: user)
        if try await services.users.find(id) == nil {
            _ = try await services.users.upsert(id, profile: try .init(name: user, avatarURL: nil, metadata: nil), actor: "test", at: Date())
        }
        return try services.tokens.mint(user: id, roles: [.user], ttlSeconds: 600).token
    }

    func connect(_ token: String, viaQuery: Bool = false) async throws -> TestSocket {
        try await TestSocket.open(port: port, token: token, viaQuery: viaQuery)
    }
}

/// Frames received by a test socket, and a way to wait for the next one.
final class Mailbox: Sendable {
    private struct State {
        var frames: [JSONValue] = []
        var finished = false
        var waiter: CheckedContinuation<JSONValue?, Never>?
    }

    private let state = Mutex(State())

    func put(_ frame: JSONValue) {
        let waiter = state.withLock { state -> CheckedContinuation<JSONValue?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.frames.append(frame)
            return nil
        }
        waiter?.resume(returning: frame)
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<JSONValue?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next frame; nil when the connection closed or `abandon` was called.
    func take() async -> JSONValue? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> (Bool, JSONValue?) in
                if !state.frames.isEmpty { return (true, state.frames.removeFirst()) }
                if state.finished { return (true, nil) }
                state.waiter = continuation
                return (false, nil)
            }
            if ready.0 { continuation.resume(returning: ready.1) }
        }
    }

    func abandon() {
        let waiter = state.withLock { state -> CheckedContinuation<JSONValue?, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    var isFinished: Bool { state.withLock { $0.finished && $0.frames.isEmpty } }
}

/// A WebSocket client for tests: `next` waits for a frame (bounded, so a bug cannot hang the suite),
/// `send` writes one.
final class TestSocket: Sendable {
    private let mailbox = Mailbox()
    private let outbox: AsyncStream<String>
    private let outboxContinuation: AsyncStream<String>.Continuation
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)
    let closed = Mutex(false)
    let failure = Mutex<String?>(nil)

    private init() {
        (outbox, outboxContinuation) = AsyncStream.makeStream(of: String.self)
    }

    static func open(port: Int, token: String, viaQuery: Bool) async throws -> TestSocket {
        let socket = TestSocket()
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        let url: String
        if viaQuery {
            url = "ws://127.0.0.1:\(port)/v1/ws?token=\(token)"
        } else {
            url = "ws://127.0.0.1:\(port)/v1/ws"
            configuration.additionalHeaders[.authorization] = "Bearer \(token)"
        }
        let connected = AsyncStream<Bool>.makeStream()
        let outbox = socket.outbox
        let mailbox = socket.mailbox
        let task = Task {
            do {
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: TestDatabases.logger) { inbound, outbound, _ in
                    connected.continuation.yield(true)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in outbox { try await outbound.write(.text(text)) }
                        }
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 22) {
                                if case .text(let text) = message, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) {
                                    mailbox.put(value)
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                socket.failure.withLock { $0 = "\(error)" }
            }
            socket.closed.withLock { $0 = true }
            connected.continuation.yield(false)
            mailbox.finish()
        }
        socket.task.withLock { $0 = task }
        var iterator = connected.stream.makeAsyncIterator()
        guard await iterator.next() == true else {
            throw TestDatabaseError("websocket did not connect: \(socket.failure.withLock { $0 } ?? "closed")")
        }
        return socket
    }

    func send(_ frame: JSONValue) throws {
        let data = try JSONEncoder().encode(frame)
        outboxContinuation.yield(String(decoding: data, as: UTF8.self))
    }

    func sendRaw(_ text: String) {
        outboxContinuation.yield(text)
    }

    /// The next frame, or nil when the connection closed; throws after `seconds` without one.
    func next(within seconds: Double = 15) async throws -> JSONValue? {
        let mailbox = mailbox
        let timedOut = Flag()
        let frame = await withTaskGroup(of: JSONValue?.self) { group in
            group.addTask { await mailbox.take() }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                if !Task.isCancelled {
                    timedOut.set()
                    mailbox.abandon()
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if frame == nil, timedOut.isSet { throw TestDatabaseError("no frame within \(seconds)s") }
        return frame
    }

    /// Reads frames until one of `type` arrives, collecting the others into `skipped`.
    func next(type: String, within seconds: Double = 15, skipped: inout [JSONValue]) async throws -> JSONValue {
        while true {
            guard let frame = try await next(within: seconds) else { throw TestDatabaseError("closed while waiting for \(type)") }
            if frame["type"]?.stringValue == type { return frame }
            skipped.append(frame)
        }
    }

    func next(type: String, within seconds: Double = 15) async throws -> JSONValue {
        var skipped: [JSONValue] = []
        return try await next(type: type, within: seconds, skipped: &skipped)
    }

    func close() {
        outboxContinuation.finish()
        task.withLock { $0?.cancel() }
    }
}

/// A one-way boolean shared between tasks.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
