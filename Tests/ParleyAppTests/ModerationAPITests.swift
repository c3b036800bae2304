import Foundation
import Hummingbird
import HummingbirdTesting
import Moderation
import ParleyApp
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ParleyTestSupport
import Testing

/// The moderation routes on a router of their own (ParleyApp does not register them yet), with the real
/// middleware and authentication of `ParleyServices`.
@Suite struct ModerationAPITests {
    static func run(_ body: @Sendable (TestApp, ModerationService, any TestClientProtocol) async throws -> Void) async throws {
        try await TestDatabases.withConfiguration(.sqlite) { configuration in
            let database = try await Database.open(configuration, logger: TestDatabases.logger)
            try await database.withRunningPool { database in
                let services = ParleyServices(database: database, secret: .init(size: .bits256))
                _ = try await services.migrate()
                try await Migrator(database: database).migrate([ModerationService.migrations])
                let admin = try await services.apiKeys.create(name: "admin", scope: .admin).plaintext
                let server = try await services.apiKeys.create(name: "server", scope: .server).plaintext
                let moderation = ModerationService(database: database, ids: services.ids, clock: services.clock)
                let overrides = RateLimitOverrideStore(database: database, audit: moderation.audit)
                let limiter = GCRARateLimiter(clock: services.clock, overrides: overrides)
                let router = Router(context: ParleyRequestContext.self)
                router.add(middleware: RequestIDMiddleware(ids: services.ids))
                router.add(middleware: ErrorMiddleware())
                router.add(middleware: AuthMiddleware(authenticator: services.authenticator))
                let routes = RouteTable(router: router)
                UsersController(users: services.users, clock: services.clock).register(on: routes)
                TokensController(tokens: services.tokens, users: services.users, apiKeys: services.apiKeys).register(on: routes)
                ModerationController(service: moderation, overrides: overrides, limiter: limiter).register(on: routes)
                let app = Application(router: router, logger: TestDatabases.logger)
                let testApp = TestApp(services: services, adminKey: admin, serverKey: server, secret: .init(size: .bits256))
                try await app.test(.router) { client in try await body(testApp, moderation, client) }
            }
        }
    }

    @Test func everyModerationRouteIsDocumented() async throws {
        try await Self.run { app, moderation, _ in
            let routes = RouteTable(router: Router(context: ParleyRequestContext.self))
            ModerationController(service: moderation, overrides: RateLimitOverrideStore(database: app.services.database, audit: moderation.audit))
                .register(on: routes)
            var builder = OpenAPIBuilder()
            builder.addModeration()
            let documented = Set(builder.operations.map { "\($0.method) \($0.path)" })
            let registered = Set(routes.routes.map { "\($0.method) \($0.path)" })
            #expect(documented == registered)
        }
    }

    @Test func usersBlockReportAndAppealAndModeratorsWorkTheQueue() async throws {
        try await Self.run { app, _, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let mod = try await app.userToken("mod1", roles: ["user", "moderator"], client: client)

            #expect(try await client.json(.put, "/v1/blocks/bob", bearer: alice).status == .created)
            #expect(try await client.json(.put, "/v1/blocks/bob", bearer: alice).status == .ok)
            let blocks = try await client.json(.get, "/v1/blocks", bearer: alice)
            #expect(blocks.body["items"]?.arrayCount == 1)
            #expect(try await client.json(.delete, "/v1/blocks/bob", bearer: alice).status == .noContent)

            let report = try await client.json(.post, "/v1/reports", bearer: alice,
                                               body: ["subject_type": "user", "subject_id": "bob", "category": "harassment", "text": "rude"])
            #expect(report.status == .created)
            let caseID = try #require(report.body["case_id"]?.stringValue)

            let queue = try await client.json(.get, "/v1/moderation/cases?state=open", bearer: mod)
            #expect(queue.body["items"]?.arrayCount == 1)
            let detail = try await client.json(.get, "/v1/moderation/cases/\(caseID)", bearer: mod)
            #expect(detail.body["report_count"] == 1)
            let acted = try await client.json(.post, "/v1/moderation/cases/\(caseID)/actions", bearer: mod,
                                              body: ["action": "mute", "reason": "harassment", "duration_seconds": 3600])
            #expect(acted.status == .ok)
            #expect(acted.body["state"] == "resolved")
            let again = try await client.json(.post, "/v1/moderation/cases/\(caseID)/actions", bearer: mod,
                                              body: ["action": "ban", "reason": "x"])
            #expect(again.status == .conflict)
            #expect(again.errorCode == "moderation.case_closed")

            let strikes = try await client.json(.get, "/v1/me/strikes", bearer: bob)
            let strikeID = try #require(strikes.body["items"]?.firstItem?["id"]?.stringValue)
            let appeal = try await client.json(.post, "/v1/appeals", bearer: bob, body: ["strike_id": .string(strikeID), "text": "sorry"])
            #expect(appeal.status == .created)
            let appealID = try #require(appeal.body["id"]?.stringValue)
            let decided = try await client.json(.post, "/v1/moderation/appeals/\(appealID)/decision", bearer: app.adminKey,
                                                body: ["decision": "grant", "reason": "first time"])
            #expect(decided.body["state"] == "granted")

            let audit = try await client.json(.get, "/v1/moderation/audit?subject=user:bob", bearer: mod)
            let actions = (audit.body["items"]?.arrayValues ?? []).compactMap { $0["action"]?.stringValue }
            #expect(actions == ["appeal.grant", "sanction.lift", "appeal.file", "case.mute", "strike", "sanction.mute", "report", "unblock", "block"])

            let sanctioned = try await client.json(.post, "/v1/moderation/sanctions", bearer: mod,
                                                   body: ["user_id": "bob", "kind": "suspend", "reason": "spam", "duration_seconds": 600])
            #expect(sanctioned.status == .created)
            let sanctionID = try #require(sanctioned.body["id"]?.stringValue)
            let list = try await client.json(.get, "/v1/moderation/sanctions?user_id=bob&active=true", bearer: mod)
            #expect(list.body["items"]?.arrayCount == 1)
            let lifted = try await client.json(.post, "/v1/moderation/sanctions/\(sanctionID)/lift", bearer: mod, body: ["reason": "ok"])
            #expect(lifted.body["lifted_by"] == "user:mod1")
            #expect(try await client.json(.get, "/v1/moderation/held", bearer: mod).body["items"]?.arrayCount == 0)
            #expect(try await client.json(.get, "/v1/moderation/appeals?state=granted", bearer: mod).body["items"]?.arrayCount == 1)
        }
    }

    @Test func adminsEditRateLimitOverridesAndReportsAreLimited() async throws {
        try await Self.run { app, _, client in
            let alice = try await app.userToken("alice", client: client)
            let mod = try await app.userToken("mod1", roles: ["moderator"], client: client)
            let forbidden = try await client.json(.put, "/v1/moderation/rate-limits/overrides", bearer: mod,
                                                  body: ["action": "report", "scope": "user", "target": "alice", "count": 2, "period_seconds": 3600])
            #expect(forbidden.status == .forbidden)
            let set = try await client.json(.put, "/v1/moderation/rate-limits/overrides", bearer: app.adminKey,
                                            body: ["action": "report", "scope": "user", "target": "alice", "count": 2, "period_seconds": 3600])
            #expect(set.status == .ok)
            let limits = try await client.json(.get, "/v1/moderation/rate-limits", bearer: app.adminKey)
            #expect(limits.body["overrides"]?.arrayCount == 1)
            for index in 0..<2 {
                _ = try await client.json(.put, "/v1/users/u\(index)", bearer: app.serverKey, body: ["name": "u"])
                let ok = try await client.json(.post, "/v1/reports", bearer: alice,
                                               body: ["subject_type": "user", "subject_id": .string("u\(index)"), "category": "spam"])
                #expect(ok.status == .created)
            }
            let limited = try await client.json(.post, "/v1/reports", bearer: alice,
                                                body: ["subject_type": "user", "subject_id": "u9", "category": "spam"])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorCode == "moderation.rate_limited")
            #expect(limited.headers[.retryAfter] != nil)
            #expect(try await client.json(.delete, "/v1/moderation/rate-limits/overrides/report/user/alice", bearer: app.adminKey).status
                == .noContent)
            let missing = try await client.json(.delete, "/v1/moderation/rate-limits/overrides/report/user/alice", bearer: app.adminKey)
            #expect(missing.errorCode == "moderation.override_not_found")
        }
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let name: String
        let method: HTTPRequest.Method
        let uri: String
        let who: String
        let body: String?
        let status: HTTPResponse.Status
        let code: String
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = [
        BadCase(name: "report without credentials", method: .post, uri: "/v1/reports", who: "none", body: "{}", status: .unauthorized,
                code: "auth.missing_credentials"),
        BadCase(name: "unknown category", method: .post, uri: "/v1/reports", who: "user",
                body: #"{"subject_type": "user", "subject_id": "bob", "category": "rude"}"#, status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "unknown subject type", method: .post, uri: "/v1/reports", who: "user",
                body: #"{"subject_type": "planet", "subject_id": "x", "category": "spam"}"#, status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "report text too long", method: .post, uri: "/v1/reports", who: "user",
                body: #"{"subject_type": "user", "subject_id": "bob", "category": "spam", "text": "\#(String(repeating: "t", count: 1001))"}"#,
                status: .badRequest, code: "request.field_too_long"),
        BadCase(name: "report yourself", method: .post, uri: "/v1/reports", who: "user",
                body: #"{"subject_type": "user", "subject_id": "alice", "category": "spam"}"#, status: .badRequest, code: "moderation.cannot_report_self"),
        BadCase(name: "report an invalid user id", method: .post, uri: "/v1/reports", who: "user",
                body: #"{"subject_type": "user", "subject_id": "a b", "category": "spam"}"#, status: .badRequest, code: "identity.invalid_user_id"),
        BadCase(name: "report with an unknown field", method: .post, uri: "/v1/reports", who: "user",
                body: #"{"subject_type": "user", "subject_id": "bob", "category": "spam", "x": 1}"#, status: .badRequest, code: "request.unknown_field"),
        BadCase(name: "block yourself", method: .put, uri: "/v1/blocks/alice", who: "user", body: nil, status: .badRequest,
                code: "moderation.cannot_block_self"),
        BadCase(name: "blocks with an api key", method: .get, uri: "/v1/blocks", who: "server", body: nil, status: .forbidden,
                code: "auth.user_token_required"),
        BadCase(name: "appeal an unknown strike", method: .post, uri: "/v1/appeals", who: "user", body: #"{"strike_id": "st_x", "text": "hi"}"#,
                status: .notFound, code: "moderation.strike_not_found"),
        BadCase(name: "empty appeal", method: .post, uri: "/v1/appeals", who: "user", body: #"{"strike_id": "st_x", "text": "  "}"#,
                status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "queue as a plain user", method: .get, uri: "/v1/moderation/cases", who: "user", body: nil, status: .forbidden,
                code: "auth.missing_role"),
        BadCase(name: "queue with a server key", method: .get, uri: "/v1/moderation/cases", who: "server", body: nil, status: .forbidden,
                code: "auth.insufficient_scope"),
        BadCase(name: "unknown case state", method: .get, uri: "/v1/moderation/cases?state=weird", who: "mod", body: nil, status: .badRequest,
                code: "request.invalid_parameter"),
        BadCase(name: "unknown case", method: .get, uri: "/v1/moderation/cases/mc_nope", who: "mod", body: nil, status: .notFound,
                code: "moderation.case_not_found"),
        BadCase(name: "act without a reason", method: .post, uri: "/v1/moderation/cases/mc_nope/actions", who: "mod",
                body: #"{"action": "warn", "reason": ""}"#, status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "unknown action", method: .post, uri: "/v1/moderation/cases/mc_nope/actions", who: "mod",
                body: #"{"action": "explode", "reason": "x"}"#, status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "negative duration", method: .post, uri: "/v1/moderation/sanctions", who: "mod",
                body: #"{"user_id": "bob", "kind": "mute", "reason": "x", "duration_seconds": -5}"#, status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "mute without a duration", method: .post, uri: "/v1/moderation/sanctions", who: "mod",
                body: #"{"user_id": "bob", "kind": "mute", "reason": "x"}"#, status: .badRequest, code: "request.missing_field"),
        BadCase(name: "unknown sanction", method: .post, uri: "/v1/moderation/sanctions/sn_x/lift", who: "mod", body: #"{"reason": "x"}"#,
                status: .notFound, code: "moderation.sanction_not_found"),
        BadCase(name: "unknown held", method: .post, uri: "/v1/moderation/held/mh_x/approve", who: "mod", body: "{}", status: .notFound,
                code: "moderation.held_not_found"),
        BadCase(name: "audit without a filter", method: .get, uri: "/v1/moderation/audit", who: "mod", body: nil, status: .badRequest,
                code: "request.invalid_parameter"),
        BadCase(name: "audit with both filters", method: .get, uri: "/v1/moderation/audit?subject=a&actor=b", who: "mod", body: nil,
                status: .badRequest, code: "request.invalid_parameter"),
        BadCase(name: "forged audit cursor", method: .get, uri: "/v1/moderation/audit?subject=a&cursor=eA", who: "mod", body: nil,
                status: .badRequest, code: "request.invalid_cursor"),
        BadCase(name: "bad appeal decision", method: .post, uri: "/v1/moderation/appeals/ap_x/decision", who: "mod",
                body: #"{"decision": "maybe", "reason": "x"}"#, status: .badRequest, code: "request.invalid_field"),
        BadCase(name: "unknown appeal", method: .post, uri: "/v1/moderation/appeals/ap_x/decision", who: "mod",
                body: #"{"decision": "deny", "reason": "x"}"#, status: .notFound, code: "moderation.appeal_not_found"),
        BadCase(name: "override with zero count", method: .put, uri: "/v1/moderation/rate-limits/overrides", who: "admin",
                body: #"{"action": "report", "scope": "user", "target": "bob", "count": 0, "period_seconds": 60}"#, status: .badRequest,
                code: "moderation.invalid_limit"),
        BadCase(name: "override for an unknown role", method: .put, uri: "/v1/moderation/rate-limits/overrides", who: "admin",
                body: #"{"action": "report", "scope": "role", "target": "root", "count": 1, "period_seconds": 60}"#, status: .badRequest,
                code: "request.invalid_field"),
        BadCase(name: "override for an unknown action", method: .delete, uri: "/v1/moderation/rate-limits/overrides/fly/user/bob", who: "admin",
                body: nil, status: .badRequest, code: "request.invalid_parameter"),
    ]

    @Test(arguments: badCases)
    func badInputGetsAFourHundredWithItsOwnCode(_ testCase: BadCase) async throws {
        try await Self.run { app, _, client in
            let bearer: String? = switch testCase.who {
            case "user": try await app.userToken("alice", client: client)
            case "mod": try await app.userToken("mod1", roles: ["moderator"], client: client)
            case "server": app.serverKey
            case "admin": app.adminKey
            default: nil
            }
            _ = try await client.json(.put, "/v1/users/bob", bearer: app.serverKey, body: ["name": "Bob"])
            let response = try await client.json(testCase.method, testCase.uri, bearer: bearer, rawBody: testCase.body)
            #expect(response.status == testCase.status)
            #expect(response.errorCode == testCase.code)
        }
    }
}

extension JSONValue {
    var arrayValues: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    var arrayCount: Int? { arrayValues?.count }
    var firstItem: JSONValue? { arrayValues?.first }
}
