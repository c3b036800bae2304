import Crypto
import Events
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Identity
import NIOCore
import Notifications
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ParleyTestSupport
import Testing

/// Identity's users as Notifications' directory: what the composition root wires.
struct IdentityNotificationDirectory: NotificationUserDirectory {
    let users: any UserStore

    func activeUsers(after: UserID?, limit: Int) async throws -> [UserID] {
        var result: [UserID] = []
        var cursor = after.map { Cursor.encode($0.rawValue) }
        while result.count < limit {
            let page = try await users.list(try PageRequest(limit: PageRequest.maxLimit, cursor: cursor))
            for user in page.items where user.isActive && result.count < limit { result.append(user.id) }
            guard let next = page.nextCursor else { break }
            cursor = result.count < limit ? next : nil
            if cursor == nil { break }
        }
        return result
    }

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await users.activeUsers(among: ids)
    }
}

/// The notifications routes on a real router (request ids, errors, auth), on a fresh database.
struct NotificationsAPI: Sendable {
    let service: NotificationService
    let routes: [RegisteredRoute]
    let serverKey: String
    let adminKey: String
    let tokens: TokenService
    let users: any UserStore
    let broadcaster: NotificationStreamBroadcaster

    static func run(_ engine: DatabaseEngine, _ body: @Sendable (NotificationsAPI, any TestClientProtocol) async throws -> Void) async throws {
        let migrations = [EventLog.migrations, SQLUserStore.migrations, JobQueue.migrations, NotificationService.migrations]
        try await TestDatabases.withDatabase(engine, migrations: migrations) { database in
            let clock = SystemWallClock()
            let ids = SortableIDGenerator(clock: clock)
            let events = EventLog(database: database, ids: ids)
            let users = SQLUserStore(database: database, outbox: events)
            let apiKeys = APIKeyService(database: database, ids: ids, clock: clock)
            let tokens = TokenService(secret: SymmetricKey(size: .bits256), clock: clock, ids: ids)
            let authenticator = Authenticator(tokens: tokens, apiKeys: apiKeys, users: users)
            let jobs = JobQueue(database: database, ids: ids, clock: clock)
            let configs = NotificationChannelConfigs(database: database, clock: clock)
            let service = NotificationService(database: database, outbox: events, jobs: jobs, users: IdentityNotificationDirectory(users: users),
                                              clock: clock, ids: ids, settings: NotificationSettings(linkSecret: "api-test-link-secret-0123456789"))
            let broadcaster = NotificationStreamBroadcaster()
            let router = Router(context: ParleyRequestContext.self)
            router.add(middleware: RequestIDMiddleware(ids: ids))
            router.add(middleware: ErrorMiddleware())
            router.add(middleware: AuthMiddleware(authenticator: authenticator))
            let table = RouteTable(router: router)
            NotificationsController(service: service, configs: configs, users: users, authenticator: authenticator, broadcaster: broadcaster,
                                    clock: clock, heartbeatInterval: .milliseconds(100), maxStreamDuration: .milliseconds(400),
                                    devices: PushDeviceRegistry(database: database, clock: clock, ids: ids))
                .register(on: table)
            UsersController(users: users, clock: clock).register(on: table)
            let api = NotificationsAPI(
                service: service, routes: table.routes, serverKey: try await apiKeys.create(name: "s", scope: .server).plaintext,
                adminKey: try await apiKeys.create(name: "a", scope: .admin).plaintext, tokens: tokens, users: users, broadcaster: broadcaster
            )
            try await Application(router: router, logger: TestDatabases.logger).test(.router) { client in
                try await body(api, client)
            }
        }
    }

    func token(_ user: String, client: some TestClientProtocol) async throws -> String {
        _ = try await client.call(.put, "/v1/users/\(user)", bearer: serverKey, body: ["name": .string(user)])
        return try tokens.mint(user: UserID(trusted: user), roles: [.user], ttlSeconds: 600).token
    }
}

struct APIResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String
    var body: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null }
    var code: String? { body["error"]?["code"]?.stringValue }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, body: JSONValue? = nil, raw: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> APIResponse {
        var headers = extra
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        var buffer: ByteBuffer?
        if let body { buffer = ByteBuffer(data: try JSONEncoder().encode(body)) } else if let raw { buffer = ByteBuffer(string: raw) }
        if buffer != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: buffer) { response in
            APIResponse(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}

@Suite struct NotificationsAPITests {
    static let template: JSONValue = ["title": "Hi {{name}}", "body": "News: {{what}}", "action_url": "https://example.com/x"]

    @Test(arguments: TestDatabases.engines)
    func aPlatformTriggersAndAUserReadsMarksAndStreamsTheirInbox(engine: DatabaseEngine) async throws {
        try await NotificationsAPI.run(engine) { api, client in
            let alice = try await api.token("alice", client: client)
            #expect(try await client.call(.put, "/v1/admin/notifications/templates/news/in_app/en", bearer: api.adminKey,
                                          body: Self.template).status == .ok)
            let trigger: JSONValue = ["template": "news", "recipients": ["alice", "ghost"], "data": ["name": "Alice", "what": "launch"]]
            var headers = HTTPFields()
            headers[NotificationsController.idempotencyKeyHeader] = "t-1"
            let first = try await client.call(.post, "/v1/notifications", bearer: api.serverKey, body: trigger, headers: headers)
            #expect(first.status == .accepted)
            #expect(first.body["recipients"] == 1)
            let replay = try await client.call(.post, "/v1/notifications", bearer: api.serverKey, body: trigger, headers: headers)
            #expect(replay.body["id"] == first.body["id"])
            #expect(replay.headers[NotificationsController.replayedHeader] == "true")

            let list = try await client.call(.get, "/v1/me/notifications?limit=10", bearer: alice)
            #expect(list.status == .ok)
            let entry = try #require(list.body["items"].flatMap { if case .array(let items) = $0 { items.first } else { nil } })
            #expect(entry["title"] == "Hi Alice")
            #expect(list.body["next_cursor"] == .null)
            let id = try #require(entry["id"]?.stringValue)
            #expect(try await client.call(.get, "/v1/me/notifications/counts", bearer: alice).body["unread"] == 1)

            // The platform acts for a user with Parley-Act-As.
            var actAs = HTTPFields()
            actAs[ConversationsController.actAsHeader] = "alice"
            #expect(try await client.call(.get, "/v1/me/notifications/counts", bearer: api.serverKey, headers: actAs).body["unseen"] == 1)

            // The tracked link redirects and counts the click.
            let click = try #require(entry["click_url"]?.stringValue)
            let redirect = try await client.call(.get, click)
            #expect(redirect.status == .found)
            #expect(redirect.headers[.location] == "https://example.com/x")
            #expect(try await client.call(.get, click.replacingOccurrences(of: "sig=", with: "sig=00")).code == "notifications.invalid_signature")
            #expect(try await client.call(.get, "/v1/me/notifications/counts", bearer: alice).body["unread"] == 0)
            #expect(try await client.call(.post, "/v1/me/notifications/\(id)/unread", bearer: alice).body["read_at"] == .null)

            // SSE resumes after Last-Event-ID from the inbox, then sends the badge; the stream ends after its max duration here.
            var resume = HTTPFields()
            resume[NotificationsController.lastEventIDHeader] = "0:n_"
            let stream = try await client.call(.get, "/v1/notifications/stream", bearer: alice, headers: resume)
            #expect(stream.status == .ok)
            #expect(stream.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            #expect(stream.text.contains("event: notification\n"))
            #expect(stream.text.contains("id: \(entry["position"]?.stringValue ?? "?")\n"))
            #expect(stream.text.contains("event: badge\n"))
            #expect(stream.text.contains(": heartbeat"))
            #expect(api.broadcaster.streamCount == 0)
            // With ?token= (EventSource cannot set headers) and nothing missed: only the badge.
            let plain = try await client.call(.get, "/v1/notifications/stream?token=\(alice)")
            #expect(plain.status == .ok)
            #expect(!plain.text.contains("event: notification"))

            // Preferences round-trip.
            let prefs = try await client.call(.put, "/v1/me/notification-preferences", bearer: alice, body: [
                "locale": "de-DE", "time_zone": "Europe/Berlin", "quiet_hours": ["start": "22:00", "end": "07:00"],
                "channels": ["general": ["webhook": false]],
            ])
            #expect(prefs.status == .ok)
            #expect(prefs.body["quiet_hours"]?["start"] == "22:00")
            #expect(prefs.body["channels"]?["general"]?["webhook"] == false)
            #expect(try await client.call(.put, "/v1/me/notification-topics/launches", bearer: alice).status == .noContent)
            #expect(try await client.call(.get, "/v1/me/notification-topics", bearer: alice).body["items"] == ["launches"])

            // Constant admin paths beside /v1/admin/notifications/{notification_id} route where they should.
            let templates = try await client.call(.get, "/v1/admin/notifications/templates", bearer: api.adminKey)
            #expect(templates.status == .ok)
            #expect(templates.text.contains("\"key\":\"news\""))
            let categories = try await client.call(.get, "/v1/admin/notifications/categories", bearer: api.adminKey)
            #expect(categories.status == .ok && categories.text.contains("\"general\""))
            let record = try await client.call(.get, "/v1/admin/notifications/\(first.body["id"]?.stringValue ?? "")", bearer: api.serverKey)
            #expect(record.body["recipient_count"] == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func badInputGetsStableFourHundredCodesNeverAFiveHundred(engine: DatabaseEngine) async throws {
        try await NotificationsAPI.run(engine) { api, client in
            let alice = try await api.token("alice", client: client)
            _ = try await client.call(.put, "/v1/admin/notifications/templates/news/in_app/en", bearer: api.adminKey, body: Self.template)
            _ = try await client.call(.put, "/v1/admin/notifications/categories/security", bearer: api.adminKey, body: ["mandatory": true])
            let key = api.serverKey, admin = api.adminKey
            var conflictKey = HTTPFields()
            conflictKey[NotificationsController.idempotencyKeyHeader] = "same"
            _ = try await client.call(.post, "/v1/notifications", bearer: key, body: ["template": "news", "recipients": ["alice"],
                                                                                      "data": ["name": "a", "what": "b"]], headers: conflictKey)
            let cases: [(HTTPRequest.Method, String, String?, JSONValue?, String?, HTTPFields, HTTPResponse.Status, String)] = [
                (.post, "/v1/notifications", key, nil, "{nope", [:], .badRequest, "request.malformed_json"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": ["alice"], "extra": 1], nil, [:], .badRequest, "request.unknown_field"),
                (.post, "/v1/notifications", key, ["recipients": ["alice"]], nil, [:], .badRequest, "request.missing_field"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": 5], nil, [:], .badRequest, "request.invalid_field"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": ["bad id!"]], nil, [:], .badRequest, "identity.invalid_user_id"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": [], "data": [:]], nil, [:], .badRequest, "request.invalid_field"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": "all", "priority": "urgent"], nil, [:], .badRequest,
                 "request.invalid_field"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": "all", "send_at": "tomorrow"], nil, [:], .badRequest,
                 "request.invalid_field"),
                (.post, "/v1/notifications", key, ["template": "nope", "recipients": ["alice"]], nil, [:], .notFound,
                 "notifications.template_not_found"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": ["alice"], "data": ["name": "x"]], nil, [:],
                 .unprocessableContent, "notifications.missing_variable"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": ["alice"], "category": "nope", "data": ["name": "a", "what": "b"]],
                 nil, [:], .notFound, "notifications.category_not_found"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": "all", "digest": ["key": "k", "window_seconds": 60],
                                                   "data": ["name": "a", "what": "b"]], nil, [:], .badRequest, "request.invalid_field"),
                (.post, "/v1/notifications", key, ["template": "news", "recipients": ["alice"], "data": ["name": "a", "what": "other"]], nil,
                 conflictKey, .conflict, "notifications.idempotency_conflict"),
                (.post, "/v1/notifications", alice, ["template": "news", "recipients": ["alice"]], nil, [:], .forbidden, "auth.api_key_required"),
                (.post, "/v1/notifications", nil, ["template": "news", "recipients": ["alice"]], nil, [:], .unauthorized, "auth.missing_credentials"),
                (.put, "/v1/admin/notifications/templates/news/sms/en", admin, ["title": "x"], nil, [:], .badRequest, "request.invalid_parameter"),
                (.put, "/v1/admin/notifications/templates/news/in_app/en", admin, ["title": "x", "body": "{{#a}}"], nil, [:], .badRequest,
                 "notifications.invalid_template"),
                (.put, "/v1/admin/notifications/templates/news/in_app/en", admin, ["title": "x"], nil, [:], .badRequest, "request.missing_field"),
                (.put, "/v1/admin/notifications/templates/news/push/en", admin, ["title": "x", "body": "y", "html": "z"], nil, [:], .badRequest,
                 "request.unknown_field"),
                (.put, "/v1/admin/notifications/templates/news/in_app/e%20n", admin, ["title": "x", "body": "y"], nil, [:], .badRequest,
                 "request.invalid_field"),
                (.put, "/v1/admin/notifications/templates/news/in_app/en", key, ["title": "x", "body": "y"], nil, [:], .forbidden,
                 "auth.insufficient_scope"),
                (.get, "/v1/admin/notifications/templates/news/email/en", admin, nil, nil, [:], .notFound, "notifications.template_not_found"),
                (.delete, "/v1/admin/notifications/categories/general", admin, nil, nil, [:], .conflict, "notifications.category_in_use"),
                (.put, "/v1/admin/notifications/channels/webhook", admin, ["url": "ftp://x"], nil, [:], .badRequest, "request.invalid_field"),
                (.get, "/v1/admin/notifications/channels/webhook", admin, nil, nil, [:], .notFound, "notifications.channel_not_configured"),
                (.get, "/v1/admin/notifications/n_missing", key, nil, nil, [:], .notFound, "notifications.notification_not_found"),
                (.get, "/v1/me/notifications", nil, nil, nil, [:], .unauthorized, "auth.missing_credentials"),
                (.get, "/v1/me/notifications", key, nil, nil, [:], .forbidden, "auth.act_as_required"),
                (.get, "/v1/me/notifications?limit=0", alice, nil, nil, [:], .badRequest, "request.invalid_parameter"),
                (.get, "/v1/me/notifications?cursor=%21%21", alice, nil, nil, [:], .badRequest, "request.invalid_cursor"),
                (.get, "/v1/me/notifications?cursor=Zm9v", alice, nil, nil, [:], .badRequest, "request.invalid_cursor"),
                (.get, "/v1/me/notifications?unread=maybe", alice, nil, nil, [:], .badRequest, "request.invalid_parameter"),
                (.get, "/v1/me/notifications?archived=x", alice, nil, nil, [:], .badRequest, "request.invalid_parameter"),
                (.post, "/v1/me/notifications/n_nope/read", alice, nil, nil, [:], .notFound, "notifications.notification_not_found"),
                (.post, "/v1/me/notifications/n_nope/snooze", alice, ["until": "soon"], nil, [:], .badRequest, "request.invalid_field"),
                (.post, "/v1/me/notifications/n_nope/snooze", alice, ["until": "2000-01-01T00:00:00Z"], nil, [:], .badRequest, "request.invalid_field"),
                (.post, "/v1/me/notifications/bulk", alice, ["action": "explode"], nil, [:], .badRequest, "request.invalid_field"),
                (.put, "/v1/me/notification-preferences", alice, ["time_zone": "Mars/Olympus"], nil, [:], .badRequest, "request.invalid_field"),
                (.put, "/v1/me/notification-preferences", alice, ["quiet_hours": ["start": "25:00", "end": "07:00"]], nil, [:], .badRequest,
                 "request.invalid_field"),
                (.put, "/v1/me/notification-preferences", alice, ["channels": ["general": ["fax": true]]], nil, [:], .badRequest,
                 "request.invalid_field"),
                (.put, "/v1/me/notification-preferences", alice, ["channels": ["security": ["in_app": false]]], nil, [:], .unprocessableContent,
                 "notifications.mandatory_category"),
                (.put, "/v1/me/notification-preferences", alice, ["locale": "not a locale"], nil, [:], .badRequest, "request.invalid_field"),
                (.put, "/v1/me/notification-topics/bad%20topic", alice, nil, nil, [:], .badRequest, "request.invalid_field"),
                (.get, "/v1/notifications/stream", nil, nil, nil, [:], .unauthorized, "auth.missing_credentials"),
                (.get, "/v1/notifications/stream", key, nil, nil, [:], .forbidden, "auth.user_token_required"),
                (.get, "/v1/notifications/stream?token=garbage", nil, nil, nil, [:], .unauthorized, "auth.invalid_token"),
                (.get, "/v1/notifications/n_x/click?u=alice&sig=abc", nil, nil, nil, [:], .forbidden, "notifications.invalid_signature"),
                (.get, "/v1/notifications/n_x/click", nil, nil, nil, [:], .forbidden, "notifications.invalid_signature"),
                (.get, "/v1/notifications/n_x/click?u=bad%20id&sig=abc", nil, nil, nil, [:], .badRequest, "identity.invalid_user_id"),
            ]
            for (method, path, bearer, body, raw, headers, status, code) in cases {
                let response = try await client.call(method, path, bearer: bearer, body: body, raw: raw, headers: headers)
                #expect(response.status == status, "\(method) \(path) \(body.map { "\($0)" } ?? raw ?? ""): \(response.text)")
                #expect(response.code == code, "\(method) \(path): \(response.text)")
            }
        }
    }

    @Test func everyNotificationsRouteIsInTheOpenAPIDocument() async throws {
        try await NotificationsAPI.run(.sqlite) { api, _ in
            var builder = OpenAPIBuilder()
            builder.addNotifications()
            let documented = Set(builder.operations.map { "\($0.method) \($0.path)" })
            // UsersController's routes are documented with it; the email routes under /v1/users are Notifications'.
            let registered = Set(api.routes.filter { route in
                (!route.path.hasPrefix("/v1/users") || route.path.hasSuffix("/email")) && route.path != "/v1/me"
            }.map { "\($0.method) \($0.path)" })
            #expect(registered.subtracting(documented).isEmpty, "undocumented: \(registered.subtracting(documented).sorted())")
            #expect(documented.subtracting(registered).isEmpty, "documented but not registered: \(documented.subtracting(registered).sorted())")
        }
    }
}
