import Analytics
import Crypto
import Events
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Identity
import NIOCore
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ParleyTestSupport
import Testing

/// The analytics routes on a real router (request ids, errors, auth): series as JSON and CSV, the overview,
/// and stable 4xx codes for every bad parameter.
@Suite struct AnalyticsAPITests {
    struct API: Sendable {
        let fx: AnalyticsFixture
        let adminKey: String
        let serverKey: String
        let userToken: String
        let routes: [RegisteredRoute]
    }

    static func run(_ engine: DatabaseEngine, _ body: @Sendable (API, any TestClientProtocol) async throws -> Void) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await Migrator(database: fx.database).migrate([SQLUserStore.migrations])
            let ids = SortableIDGenerator(clock: fx.clock)
            let users = SQLUserStore(database: fx.database, outbox: fx.log)
            let apiKeys = APIKeyService(database: fx.database, ids: ids, clock: fx.clock)
            let tokens = TokenService(secret: SymmetricKey(size: .bits256), clock: SystemWallClock(), ids: ids)
            let router = Router(context: ParleyRequestContext.self)
            router.add(middleware: RequestIDMiddleware(ids: ids))
            router.add(middleware: ErrorMiddleware())
            router.add(middleware: AuthMiddleware(authenticator: Authenticator(tokens: tokens, apiKeys: apiKeys, users: users)))
            let table = RouteTable(router: router)
            AnalyticsController(service: fx.service, clock: fx.clock).register(on: table)
            _ = try await users.upsert(UserID(trusted: "u1"), profile: try UserProfile(name: "u1", avatarURL: nil, metadata: nil),
                                       actor: "test", at: fx.clock.now())
            let api = API(
                fx: fx, adminKey: try await apiKeys.create(name: "a", scope: .admin).plaintext,
                serverKey: try await apiKeys.create(name: "s", scope: .server).plaintext,
                userToken: try tokens.mint(user: UserID(trusted: "u1"), roles: [.user], ttlSeconds: 3600).token, routes: table.routes
            )
            try await Application(router: router, logger: TestDatabases.logger).test(.router) { client in
                try await body(api, client)
            }
        }
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, bearer: String, accept: String? = nil)
        async throws -> (status: HTTPResponse.Status, headers: HTTPFields, text: String, json: JSONValue) {
        var headers: HTTPFields = [.authorization: "Bearer \(bearer)"]
        if let accept { headers[.accept] = accept }
        return try await client.execute(uri: uri, method: .get, headers: headers, body: nil) { response in
            let data = Data(buffer: response.body)
            return (response.status, response.headers, String(decoding: data, as: UTF8.self),
                    (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aSeriesComesAsJSONAndAsCSV(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { api, client in
            try await api.fx.append(MessageMetricsTests.sequence)
            try await api.fx.drain()
            let uri = "/v1/analytics/metrics/messages?from=2026-01-10T00:00:00Z&to=2026-01-12T00:00:00Z&granularity=day&tz=UTC"
            let json = try await Self.get(client, uri, bearer: api.adminKey)
            #expect(json.status == .ok)
            #expect(json.json == [
                "metric": "messages", "granularity": "day", "tz": "UTC",
                "points": [["t": "2026-01-10T00:00:00.000Z", "value": 5], ["t": "2026-01-11T00:00:00.000Z", "value": 0]],
            ])
            let csv = try await Self.get(client, uri + "&breakdown=conversation_type", bearer: api.adminKey, accept: "text/csv")
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text == """
                t,breakdown,value\r
                2026-01-10T00:00:00.000Z,direct,2\r
                2026-01-10T00:00:00.000Z,group,2\r
                2026-01-10T00:00:00.000Z,unknown,1\r
                2026-01-11T00:00:00.000Z,direct,0\r
                2026-01-11T00:00:00.000Z,group,0\r
                2026-01-11T00:00:00.000Z,unknown,0\r

                """)
            let forced = try await Self.get(client, uri + "&format=csv", bearer: api.adminKey)
            #expect(forced.text.hasPrefix("t,value\r\n2026-01-10T00:00:00.000Z,5\r\n"))
            let shanghai = try await Self.get(client, "/v1/analytics/metrics/active_users?from=2026-01-09T16:00:00Z&to=2026-01-10T16:00:00Z"
                + "&tz=Asia/Shanghai", bearer: api.adminKey)
            #expect(shanghai.json["tz"] == "Asia/Shanghai")
            #expect(shanghai.json["points"] == [["t": "2026-01-09T16:00:00.000Z", "value": 4]])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theOverviewGivesTheDaysFigures(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { api, client in
            try await api.fx.append(MessageMetricsTests.sequence)
            try await api.fx.drain()
            let response = try await Self.get(client, "/v1/analytics/overview?tz=UTC&at=2026-01-10T18:00:00Z", bearer: api.adminKey)
            #expect(response.status == .ok)
            #expect(response.json["day"] == "2026-01-10T00:00:00.000Z")
            #expect(response.json["metrics"]?["active_users"] == 4)
            #expect(response.json["metrics"]?["messages"] == 5)
            #expect(response.json["metrics"]?["mau"] == 4)
            #expect(response.json["metrics"]?["stickiness"] == .double(1.0) || response.json["metrics"]?["stickiness"] == 1)
            // Gina answered Frank within the window; her own turn was never answered: one of two.
            #expect(response.json["metrics"]?["response_rate_7d"] == .double(0.5))
            #expect(response.json["metrics"]?["first_response_time_median_7d"] == 300)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func badParametersGetStableCodes(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { api, client in
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("/v1/analytics/metrics/nope", .notFound, "analytics.unknown_metric"),
                ("/v1/analytics/metrics/messages?from=2026-01-10T00:00:00Z&to=2026-01-09T00:00:00Z", .badRequest, "analytics.invalid_range"),
                ("/v1/analytics/metrics/messages?from=2026-01-10T00:00:00Z&to=2026-01-10T00:00:00Z", .badRequest, "analytics.invalid_range"),
                ("/v1/analytics/metrics/messages?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&granularity=hour", .badRequest,
                 "analytics.range_too_large"),
                ("/v1/analytics/metrics/messages?from=2020-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", .badRequest, "analytics.range_too_large"),
                ("/v1/analytics/metrics/messages?granularity=month", .badRequest, "request.invalid_parameter"),
                ("/v1/analytics/metrics/messages?from=yesterday", .badRequest, "request.invalid_parameter"),
                ("/v1/analytics/metrics/messages?tz=Mars/Olympus", .badRequest, "analytics.invalid_time_zone"),
                ("/v1/analytics/metrics/messages?tz=Europe/Paris", .badRequest, "analytics.unconfigured_time_zone"),
                ("/v1/analytics/metrics/messages?breakdown=colour", .badRequest, "analytics.unsupported_breakdown"),
                ("/v1/analytics/metrics/mau?granularity=hour", .badRequest, "analytics.unsupported_granularity"),
                ("/v1/analytics/metrics/messages?format=xml", .badRequest, "request.invalid_parameter"),
                ("/v1/analytics/overview?tz=Nowhere/Special", .badRequest, "analytics.invalid_time_zone"),
            ]
            for (uri, status, code) in cases {
                let response = try await Self.get(client, uri, bearer: api.adminKey)
                #expect(response.status == status, "\(uri)")
                #expect(response.json["error"]?["code"]?.stringValue == code, "\(uri): \(response.text)")
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func onlyAdminsAndAdminKeysMayReadAnalytics(engine: DatabaseEngine) async throws {
        try await Self.run(engine) { api, client in
            let asUser = try await Self.get(client, "/v1/analytics/overview", bearer: api.userToken)
            #expect(asUser.status == .forbidden)
            let asServer = try await Self.get(client, "/v1/analytics/overview", bearer: api.serverKey)
            #expect(asServer.status == .forbidden)
            let asAdmin = try await Self.get(client, "/v1/analytics/metrics", bearer: api.adminKey)
            #expect(asAdmin.status == .ok)
        }
    }

    @Test func everyAnalyticsRouteIsInTheOpenAPIDocument() async throws {
        var builder = OpenAPIBuilder()
        builder.addAnalytics()
        let documented = Set(builder.operations.map { "\($0.method) \($0.path)" })
        try await Self.run(.sqlite) { api, _ in
            #expect(Set(api.routes.map { "\($0.method) \($0.path)" }) == documented)
        }
    }
}
