import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Identity
import ParleyApp
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ParleyTestSupport
import Testing

/// The identity and auth API over the real router, on every engine.
@Suite struct FoundationAPITests {
    @Test(arguments: TestDatabases.engines)
    func thePlatformUpsertsAUserMintsATokenAndTheUserCallsAnAuthenticatedRoute(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let created = try await client.json(.put, "/v1/users/alice", bearer: app.serverKey,
                                                body: ["name": "Alice", "avatar_url": "https://cdn.test/a.png", "metadata": ["plan": "pro"]])
            #expect(created.status == .created)
            #expect(created.body["id"] == "alice")
            #expect(created.body["metadata"]?["plan"] == "pro")
            #expect(created.body["active"] == true)
            let replaced = try await client.json(.put, "/v1/users/alice", bearer: app.serverKey, body: ["name": "Alice A"])
            #expect(replaced.status == .ok)
            #expect(replaced.body["avatar_url"] == .null)

            let minted = try await client.json(.post, "/v1/tokens", bearer: app.serverKey,
                                               body: ["user_id": "alice", "roles": ["user", "agent"], "ttl_seconds": 120])
            #expect(minted.status == .created)
            #expect(minted.body["roles"] == .array(["user", "agent"]))
            let token = try #require(minted.body["token"]?.stringValue)
            let expiresAt = try #require(minted.body["expires_at"]?.stringValue.flatMap(Timestamp.parse))
            #expect(abs(expiresAt.timeIntervalSinceNow - 120) < 30)

            let me = try await client.json(.get, "/v1/me", bearer: token)
            #expect(me.status == .ok)
            #expect(me.body["name"] == "Alice A")

            let fetched = try await client.json(.get, "/v1/users/alice", bearer: app.serverKey)
            #expect(fetched.body["name"] == "Alice A")
            let missing = try await client.json(.get, "/v1/users/nobody", bearer: app.serverKey)
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "identity.user_not_found")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func listingUsersPagesWithACursor(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            for id in ["u3", "u1", "u5", "u2", "u4"] {
                _ = try await client.json(.put, "/v1/users/\(id)", bearer: app.serverKey, body: ["name": .string(id)])
            }
            let first = try await client.json(.get, "/v1/users?limit=2", bearer: app.serverKey)
            #expect(first.body["items"].map { items in
                if case .array(let values) = items { return values.compactMap { $0["id"]?.stringValue } }
                return []
            } == ["u1", "u2"])
            let cursor = try #require(first.body["next_cursor"]?.stringValue)
            let second = try await client.json(.get, "/v1/users?limit=10&cursor=\(cursor)", bearer: app.serverKey)
            if case .array(let values) = second.body["items"] {
                #expect(values.compactMap { $0["id"]?.stringValue } == ["u3", "u4", "u5"])
            } else {
                Issue.record("no items")
            }
            #expect(second.body["next_cursor"] == .null)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aDeactivatedUsersTokensStopWorkingAndReactivationRestoresThem(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let token = try await app.userToken("bob", client: client)
            #expect(try await client.json(.get, "/v1/me", bearer: token).status == .ok)
            let deactivated = try await client.json(.post, "/v1/users/bob/deactivate", bearer: app.serverKey)
            #expect(deactivated.body["active"] == false)
            let refused = try await client.json(.get, "/v1/me", bearer: token)
            #expect(refused.status == .unauthorized)
            #expect(refused.errorCode == "auth.user_deactivated")
            let noNewToken = try await client.json(.post, "/v1/tokens", bearer: app.serverKey, body: ["user_id": "bob"])
            #expect(noNewToken.errorCode == "identity.user_deactivated")
            _ = try await client.json(.post, "/v1/users/bob/reactivate", bearer: app.serverKey)
            #expect(try await client.json(.get, "/v1/me", bearer: token).status == .ok)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func adminsManageAPIKeysAndARevokedKeyStopsWorking(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let created = try await client.json(.post, "/v1/admin/api-keys", bearer: app.adminKey, body: ["name": "ci", "scope": "server"])
            #expect(created.status == .created)
            let key = try #require(created.body["key"]?.stringValue)
            let id = try #require(created.body["id"]?.stringValue)
            #expect(try await client.json(.get, "/v1/users", bearer: key).status == .ok)
            let listed = try await client.json(.get, "/v1/admin/api-keys", bearer: app.adminKey)
            if case .array(let items) = listed.body["items"] {
                #expect(items.count == 3)
                #expect(items.allSatisfy { $0["key"] == nil || $0["key"] == .null })
            } else {
                Issue.record("no items")
            }
            #expect(try await client.json(.delete, "/v1/admin/api-keys/\(id)", bearer: app.adminKey).status == .noContent)
            let refused = try await client.json(.get, "/v1/users", bearer: key)
            #expect(refused.status == .unauthorized)
            #expect(refused.errorCode == "auth.invalid_api_key")
            #expect(try await client.json(.delete, "/v1/admin/api-keys/\(id)x", bearer: app.adminKey).errorCode == "identity.api_key_not_found")
        }
    }

    @Test func systemRoutesAnswerAndEchoTheRequestID() async throws {
        try await TestApp.run(.sqlite) { _, client in
            let health = try await client.json(.get, "/healthz", headers: [.requestID: "abc-123"])
            #expect(health.status == .ok)
            #expect(health.headers[.requestID] == "abc-123")
            let generated = try await client.json(.get, "/readyz", headers: [.requestID: "bad id with spaces"])
            #expect(generated.status == .ok)
            #expect(generated.headers[.requestID]?.hasPrefix("req_") == true)
            let metrics = try await client.execute(uri: "/metrics", method: .get) { response in String(buffer: response.body) }
            #expect(metrics.contains(#"parley_http_requests_total{method="GET",route="/healthz",status="200"} 1"#))
            #expect(metrics.contains("parley_http_request_duration_seconds_bucket"))
        }
    }
}
