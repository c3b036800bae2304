import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Identity
import ParleyCore
import ParleyStorage
import Testing

/// Every kind of bad input gets a 4xx JSON error with its own stable code; nothing answers 500.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let method: HTTPRequest.Method
        let uri: String
        let credential: Credential
        let body: String?
        let status: HTTPResponse.Status
        let code: String

        var testDescription: String { name }
    }

    enum Credential: Sendable {
        case none, server, admin, user, raw(String)
    }

    static let cases: [Case] = [
        Case(name: "no credentials", method: .get, uri: "/v1/users", credential: .none, body: nil, status: .unauthorized, code: "auth.missing_credentials"),
        Case(name: "not a bearer header", method: .get, uri: "/v1/users", credential: .raw("Basic abc"), body: nil,
             status: .unauthorized, code: "auth.malformed_header"),
        Case(name: "garbage token", method: .get, uri: "/v1/me", credential: .raw("Bearer eyJ.garbage.x"), body: nil,
             status: .unauthorized, code: "auth.invalid_token"),
        Case(name: "unknown api key", method: .get, uri: "/v1/users", credential: .raw("Bearer prly_nope_secret"), body: nil,
             status: .unauthorized, code: "auth.invalid_api_key"),
        Case(name: "user token on a server route", method: .get, uri: "/v1/users", credential: .user, body: nil,
             status: .forbidden, code: "auth.api_key_required"),
        Case(name: "api key on a user route", method: .get, uri: "/v1/me", credential: .server, body: nil,
             status: .forbidden, code: "auth.user_token_required"),
        Case(name: "server key on an admin route", method: .get, uri: "/v1/admin/api-keys", credential: .server, body: nil,
             status: .forbidden, code: "auth.insufficient_scope"),
        Case(name: "malformed json", method: .put, uri: "/v1/users/x", credential: .server, body: "{\"name\": ", status: .badRequest,
             code: "request.malformed_json"),
        Case(name: "empty body", method: .put, uri: "/v1/users/x", credential: .server, body: "", status: .badRequest,
             code: "request.malformed_json"),
        Case(name: "array instead of object", method: .put, uri: "/v1/users/x", credential: .server, body: "[1,2]", status: .badRequest,
             code: "request.malformed_json"),
        Case(name: "wrong type", method: .put, uri: "/v1/users/x", credential: .server, body: #"{"name": 42}"#, status: .badRequest,
             code: "request.invalid_field"),
        Case(name: "metadata not an object", method: .put, uri: "/v1/users/x", credential: .server, body: #"{"metadata": [1]}"#,
             status: .badRequest, code: "request.invalid_field"),
        Case(name: "unknown field", method: .put, uri: "/v1/users/x", credential: .server, body: #"{"nmae": "x"}"#, status: .badRequest,
             code: "request.unknown_field"),
        Case(name: "name too long", method: .put, uri: "/v1/users/x", credential: .server,
             body: #"{"name": "\#(String(repeating: "n", count: 201))"}"#, status: .badRequest, code: "request.field_too_long"),
        Case(name: "metadata too large", method: .put, uri: "/v1/users/x", credential: .server,
             body: #"{"metadata": {"blob": "\#(String(repeating: "m", count: 17000))"}}"#, status: .badRequest, code: "request.field_too_long"),
        Case(name: "avatar not a url", method: .put, uri: "/v1/users/x", credential: .server, body: #"{"avatar_url": "javascript:alert(1)"}"#,
             status: .badRequest, code: "request.invalid_field"),
        Case(name: "invalid user id in the path", method: .put, uri: "/v1/users/bad%20id", credential: .server, body: #"{"name": "x"}"#,
             status: .badRequest, code: "identity.invalid_user_id"),
        Case(name: "invalid user id in the body", method: .post, uri: "/v1/tokens", credential: .server, body: #"{"user_id": "a/b"}"#,
             status: .badRequest, code: "identity.invalid_user_id"),
        Case(name: "missing required field", method: .post, uri: "/v1/tokens", credential: .server, body: #"{"roles": ["user"]}"#,
             status: .badRequest, code: "request.missing_field"),
        Case(name: "unknown role", method: .post, uri: "/v1/tokens", credential: .server, body: #"{"user_id": "alice", "roles": ["root"]}"#,
             status: .badRequest, code: "request.invalid_field"),
        Case(name: "ttl out of range", method: .post, uri: "/v1/tokens", credential: .server,
             body: #"{"user_id": "alice", "ttl_seconds": 99999999}"#, status: .badRequest, code: "request.invalid_field"),
        Case(name: "token for an unknown user", method: .post, uri: "/v1/tokens", credential: .server, body: #"{"user_id": "ghost"}"#,
             status: .notFound, code: "identity.user_not_found"),
        Case(name: "limit not a number", method: .get, uri: "/v1/users?limit=ten", credential: .server, body: nil, status: .badRequest,
             code: "request.invalid_parameter"),
        Case(name: "limit too large", method: .get, uri: "/v1/users?limit=5000", credential: .server, body: nil, status: .badRequest,
             code: "request.invalid_parameter"),
        Case(name: "forged cursor", method: .get, uri: "/v1/users?cursor=%25%25%25", credential: .server, body: nil, status: .badRequest,
             code: "request.invalid_cursor"),
        Case(name: "unknown scope", method: .post, uri: "/v1/admin/api-keys", credential: .admin, body: #"{"scope": "root"}"#,
             status: .badRequest, code: "request.invalid_field"),
        Case(name: "unknown route", method: .get, uri: "/v1/nothing-here", credential: .none, body: nil, status: .notFound,
             code: "route.not_found"),
    ]

    @Test(arguments: cases)
    func badInputGetsAFourHundredWithItsOwnCode(_ testCase: Case) async throws {
        try await TestApp.run(.sqlite) { app, client in
            var headers = HTTPFields()
            switch testCase.credential {
            case .none: break
            case .server: headers[.authorization] = "Bearer \(app.serverKey)"
            case .admin: headers[.authorization] = "Bearer \(app.adminKey)"
            case .user: headers[.authorization] = "Bearer \(try await app.userToken("alice", client: client))"
            case .raw(let value): headers[.authorization] = value
            }
            _ = try await client.json(.put, "/v1/users/alice", bearer: app.serverKey, body: ["name": "Alice"])
            let response = try await client.json(testCase.method, testCase.uri, rawBody: testCase.body, headers: headers)
            #expect(response.status == testCase.status)
            #expect(response.errorCode == testCase.code)
            #expect(response.body["error"]?["message"]?.stringValue?.isEmpty == false)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test func anOversizedBodyIsRefusedWith413() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let huge = #"{"name": "\#(String(repeating: "x", count: 2 << 20))"}"#
            let response = try await client.json(.put, "/v1/users/alice", bearer: app.serverKey, rawBody: huge)
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "request.too_large")
        }
    }

    @Test func anExpiredTokenIsRefusedWithItsOwnCode() async throws {
        let past = ManualWallClock(Date().addingTimeInterval(-7200))
        try await TestApp.run(.sqlite) { app, client in
            _ = try await client.json(.put, "/v1/users/alice", bearer: app.serverKey, body: ["name": "Alice"])
            let oldTokens = TokenService(secret: app.secret, clock: past, ids: SortableIDGenerator())
            let expired = try oldTokens.mint(user: try UserID(validating: "alice"), roles: [.user], ttlSeconds: 3600).token
            let response = try await client.json(.get, "/v1/me", bearer: expired)
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "auth.token_expired")
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test func aTokenForAUserTheplatformNeverCreatedIsRefused() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let token = try TokenService(secret: app.secret, clock: SystemWallClock(), ids: SortableIDGenerator())
                .mint(user: try UserID(validating: "stranger"), roles: [.user], ttlSeconds: 60).token
            let response = try await client.json(.get, "/v1/me", bearer: token)
            #expect(response.errorCode == "auth.unknown_user")
        }
    }
}
