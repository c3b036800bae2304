import Crypto
import Foundation
import Hummingbird
import Identity
import HummingbirdTesting
import Messaging
import Events
import Notifications
import NIOCore
import ParleyApp
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ParleyTestSupport

/// A real Parley router on a fresh database of one engine, with an admin key, a server key and helpers.
struct TestApp: Sendable {
    let services: ParleyServices
    let adminKey: String
    let serverKey: String
    let secret: SymmetricKey

    static func run(
        _ engine: DatabaseEngine, clock: any WallClock = SystemWallClock(),
        webPushPolicy: WebPushEndpointPolicy = WebPushEndpointPolicy(), autoPushSettings: AutoPushSettings = AutoPushSettings(),
        _ body: @Sendable (TestApp, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabases.withConfiguration(engine) { configuration in
            let database = try await Database.open(configuration, logger: TestDatabases.logger)
            try await database.withRunningPool { database in
                let secret = SymmetricKey(size: .bits256)
                let services = ParleyServices(database: database, secret: secret, clock: clock, webPushPolicy: webPushPolicy,
                                              autoPushSettings: autoPushSettings)
                _ = try await services.migrate()
                let admin = try await services.apiKeys.create(name: "admin", scope: .admin).plaintext
                let server = try await services.apiKeys.create(name: "server", scope: .server).plaintext
                let testApp = TestApp(services: services, adminKey: admin, serverKey: server, secret: secret)
                let (router, _) = ParleyServer.buildRouter(services: services, metrics: HTTPMetrics())
                let app = Application(router: router, logger: TestDatabases.logger)
                try await app.test(.router) { client in
                    try await body(testApp, client)
                }
            }
        }
    }

    /// Creates the user through the server API and returns a user token for them.
    func userToken(_ id: String, roles: [String] = ["user"], client: some TestClientProtocol) async throws -> String {
        _ = try await client.json(.put, "/v1/users/\(id)", bearer: serverKey, body: ["name": .string(id)])
        let minted = try await client.json(.post, "/v1/tokens", bearer: serverKey,
                                           body: ["user_id": .string(id), "roles": .array(roles.map { .string($0) })])
        guard let token = minted.body["token"]?.stringValue else { throw TestDatabaseError("no token in \(minted.body)") }
        return token
    }
}

/// A decoded response: status, headers and the JSON body (`.null` when there is none).
struct JSONResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: JSONValue

    var errorCode: String? { body["error"]?["code"]?.stringValue }
}

extension TestClientProtocol {
    func json(
        _ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, body: JSONValue? = nil, rawBody: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> JSONResponse {
        var headers = extra
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        var buffer: ByteBuffer?
        if let body {
            buffer = ByteBuffer(data: try JSONEncoder().encode(body))
        } else if let rawBody {
            buffer = ByteBuffer(string: rawBody)
        }
        if buffer != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: buffer) { response in
            let data = Data(buffer: response.body)
            let decoded = data.isEmpty ? JSONValue.null : ((try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .string(String(decoding: data, as: UTF8.self)))
            return JSONResponse(status: response.status, headers: response.headers, body: decoded)
        }
    }
}

extension TestApp {
    /// Two users, alice and bob, made through the services (no HTTP), and the direct conversation alice opened with
    /// bob: for tests of the send path itself.
    func aliceAndBobInADirectConversation() async throws -> (people: [UserID], conversationID: String) {
        var people: [UserID] = []
        for name in ["alice", "bob"] {
            let id = try UserID(validating: name)
            _ = try await services.users.upsert(id, profile: try UserProfile(name: name, avatarURL: nil, metadata: nil), actor: "test", at: Date())
            people.append(id)
        }
        let (direct, _) = try await services.messaging.openDirect(by: .user(people[0]), user: people[0], with: people[1])
        return (people, direct.id)
    }

    /// A text message to `conversationID` with a fresh client id.
    static func textDraft(_ text: String, to conversationID: String) throws -> MessageDraft {
        try MessageDraft(conversationID: conversationID, clientMsgID: UUID().uuidString, kind: .text, body: ["text": .string(text)])
    }

    /// Runs one of `parley serve`'s event consumers until it has read the whole log.
    func runConsumer(_ name: String) async throws {
        guard let consumer = services.eventConsumers.first(where: { $0.name == name }) else { throw TestDatabaseError("no consumer \(name)") }
        let runner = ConsumerRunner(log: services.events, consumers: [], database: services.database, clock: services.clock,
                                    logger: TestDatabases.logger)
        while try await runner.step(consumer) {}
    }

    /// Runs every job that is due, with the handlers `parley serve` uses, until none is left; returns how many ran.
    @discardableResult
    func drainJobs(maxRounds: Int = 1000) async throws -> Int {
        let handlers = Dictionary(services.jobHandlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        var ran = 0
        for _ in 0..<maxRounds {
            let claimed = try await services.jobs.claim(kinds: Set(handlers.keys), limit: 10, worker: "test", lease: 300)
            guard !claimed.isEmpty else { return ran }
            for job in claimed {
                ran += 1
                do {
                    try await handlers[job.kind]!.run(job)
                    try await services.jobs.complete(job)
                } catch {
                    try await services.jobs.fail(job, error: "\(error)", permanent: error is PermanentJobFailure)
                }
            }
        }
        return ran
    }
}
