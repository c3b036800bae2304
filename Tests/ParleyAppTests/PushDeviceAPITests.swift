import Crypto
import Foundation
import HummingbirdTesting
import Notifications
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Users register their phones and browsers; the platform sets email addresses; admins configure providers.
@Suite struct PushDeviceAPITests {
    static let apnsToken = String(repeating: "ab", count: 32)

    static func subscription(endpoint: String) -> JSONValue {
        let key = P256.KeyAgreement.PrivateKey().publicKey.x963Representation
        return ["endpoint": .string(endpoint), "expirationTime": .null,
                "keys": ["p256dh": .string(key.base64URLEncodedString()), "auth": .string(Data(repeating: 7, count: 16).base64URLEncodedString())]]
    }

    @Test(arguments: TestDatabases.engines)
    func aUserRegistersListsAndRemovesDevices(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let registered = try await client.json(.post, "/v1/me/push-devices", bearer: alice,
                                                   body: ["platform": "apns", "token": .string(Self.apnsToken), "sandbox": true])
            #expect(registered.status == .created)
            #expect(registered.body["platform"] == "apns")
            #expect(registered.body["sandbox"] == .bool(true))
            let browser = try await client.json(.post, "/v1/me/push-subscriptions", bearer: alice,
                                                body: Self.subscription(endpoint: "https://fcm.googleapis.com/fcm/send/abc123"))
            #expect(browser.status == .created)
            #expect(browser.body["platform"] == "webpush")

            let listed = try await client.json(.get, "/v1/me/push-devices", bearer: alice)
            #expect(listed.body["items"]?.arrayValues?.count == 2)

            // Registering the same token again refreshes it instead of adding a second device.
            _ = try await client.json(.post, "/v1/me/push-devices", bearer: alice, body: ["platform": "apns", "token": .string(Self.apnsToken)])
            #expect(try await client.json(.get, "/v1/me/push-devices", bearer: alice).body["items"]?.arrayValues?.count == 2)

            // The phone changes hands: Bob registers the same token, and Alice no longer has it.
            let bob = try await app.userToken("bob", client: client)
            _ = try await client.json(.post, "/v1/me/push-devices", bearer: bob, body: ["platform": "apns", "token": .string(Self.apnsToken)])
            let aliceNow = try await client.json(.get, "/v1/me/push-devices", bearer: alice).body["items"]?.arrayValue ?? []
            #expect(aliceNow.map { $0["platform"] } == ["webpush"])

            // Bob cannot remove Alice's browser; Alice can.
            let browserID = try #require(browser.body["id"]?.stringValue)
            let stolen = try await client.json(.delete, "/v1/me/push-devices/\(browserID)", bearer: bob)
            #expect(stolen.status == .notFound)
            #expect(stolen.errorCode == "notifications.device_not_found")
            #expect(try await client.json(.delete, "/v1/me/push-devices/\(browserID)", bearer: alice).status == .noContent)
            #expect(try await client.json(.get, "/v1/me/push-devices", bearer: alice).body["items"]?.arrayValues?.isEmpty == true)
        }
    }

    @Test func malformedDevicesAndSubscriptionsAreRefusedWithStableCodes() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let cases: [(String, JSONValue, String)] = [
                ("/v1/me/push-devices", ["platform": "apns", "token": "not-hex"], "request.invalid_field"),
                ("/v1/me/push-devices", ["platform": "carrier-pigeon", "token": "x"], "request.invalid_field"),
                ("/v1/me/push-devices", ["platform": "webpush", "token": "x"], "request.invalid_field"),
                ("/v1/me/push-devices", ["platform": "fcm", "token": "has space"], "request.invalid_field"),
                ("/v1/me/push-devices", ["platform": "fcm", "token": .string(String(repeating: "a", count: 5000))], "request.invalid_field"),
                ("/v1/me/push-devices", ["platform": "fcm"], "request.missing_field"),
                ("/v1/me/push-devices", ["platform": "fcm", "token": "t", "color": "red"], "request.unknown_field"),
                // Only browser push services: an internal address would turn Parley into a request forger.
                ("/v1/me/push-subscriptions", Self.subscription(endpoint: "http://169.254.169.254/latest/meta-data"), "request.invalid_field"),
                ("/v1/me/push-subscriptions", Self.subscription(endpoint: "https://evil.example.com/push"), "request.invalid_field"),
                ("/v1/me/push-subscriptions", ["endpoint": "https://fcm.googleapis.com/fcm/send/x",
                                               "keys": ["p256dh": "AAAA", "auth": "AAAA"]], "request.invalid_field"),
            ]
            for (path, body, code) in cases {
                let response = try await client.json(.post, path, bearer: alice, body: body)
                #expect(response.status.code >= 400 && response.status.code < 500, "\(body)")
                #expect(response.errorCode == code, "\(body) → \(response.body)")
            }
            #expect(try await client.json(.get, "/v1/me/push-devices", bearer: alice).body["items"]?.arrayValues?.isEmpty == true)
        }
    }

    @Test func aUserKeepsAtMostTwentyDevicesAndTheLeastRecentlyUsedGoes() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            for index in 0..<21 {
                let response = try await client.json(.post, "/v1/me/push-devices", bearer: alice,
                                                     body: ["platform": "fcm", "token": .string("token-\(index)")])
                #expect(response.status == .created)
            }
            let tokens = try await client.json(.get, "/v1/me/push-devices", bearer: alice).body["items"]?.arrayValues?
                .compactMap { $0["token"]?.stringValue } ?? []
            #expect(tokens.count == 20)
            #expect(tokens.contains("token-20"))
        }
    }

    @Test func thePlatformSetsEmailAddressesAndUsersCannot() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let set = try await client.json(.put, "/v1/users/alice/email", bearer: app.serverKey, body: ["email": "alice@example.com"])
            #expect(set.status == .ok)
            #expect(try await client.json(.get, "/v1/users/alice/email", bearer: app.serverKey).body["email"] == "alice@example.com")
            #expect(try await client.json(.put, "/v1/users/alice/email", bearer: alice, body: ["email": "a@b.co"]).status == .forbidden)
            let bad = try await client.json(.put, "/v1/users/alice/email", bearer: app.serverKey, body: ["email": "alice@example.com\r\nBcc: x@y.z"])
            #expect(bad.errorCode == "request.invalid_field")
            #expect(try await client.json(.put, "/v1/users/nobody/email", bearer: app.serverKey, body: ["email": "n@example.com"]).status == .notFound)
            #expect(try await client.json(.delete, "/v1/users/alice/email", bearer: app.serverKey).status == .noContent)
            #expect(try await client.json(.get, "/v1/users/alice/email", bearer: app.serverKey).errorCode == "notifications.email_not_set")
        }
    }

    @Test func adminsConfigureProvidersAndSecretsAreNeverShown() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let vapid = WebPushSender.generateVAPIDKeyPair()
            let push = try await client.json(.put, "/v1/admin/notifications/channels/push", bearer: app.adminKey, body: [
                "providers": [["name": "browsers", "type": "webpush",
                               "config": ["vapid_public_key": .string(vapid.publicKey), "vapid_private_key": .string(vapid.privateKey),
                                          "subject": "mailto:ops@example.com"]]],
            ])
            #expect(push.status == .ok, "\(push.body)")
            #expect(push.body["providers"]?.arrayValues?.first?["config"]?["vapid_private_key"] == "***")
            let alice = try await app.userToken("alice", client: client)
            #expect(try await client.json(.get, "/v1/push/webpush-key", bearer: alice).body["vapid_public_key"] == .string(vapid.publicKey))

            let email = try await client.json(.put, "/v1/admin/notifications/channels/email", bearer: app.adminKey, body: [
                "settings": ["from": "no-reply@example.com", "from_name": "Example"],
                "providers": [["name": "primary", "type": "smtp",
                               "config": ["host": "smtp.example.com", "port": 587, "username": "u", "password": "hunter2"]]],
            ])
            #expect(email.status == .ok, "\(email.body)")
            let shown = try await client.json(.get, "/v1/admin/notifications/channels/email", bearer: app.adminKey)
            #expect(shown.body["providers"]?.arrayValues?.first?["config"]?["password"] == "***")
            #expect(shown.body["providers"]?.arrayValues?.first?["config"]?["username"] == "u")

            let invalid: [(String, JSONValue)] = [
                ("push", ["providers": [["name": "x", "type": "webpush", "config": ["vapid_public_key": "nope"]]]]),
                ("push", ["providers": [["name": "x", "type": "pager", "config": [:]]]]),
                ("push", ["providers": []]),
                ("email", ["settings": ["from": "not an address"],
                           "providers": [["name": "a", "type": "smtp", "config": ["host": "smtp.example.com"]]]]),
                ("email", ["settings": ["from": "a@example.com"],
                           "providers": [["name": "a", "type": "smtp", "config": ["host": "smtp.example.com", "security": "rot13"]]]]),
                ("email", ["settings": ["from": "a@example.com"],
                           "providers": [["name": "a", "type": "smtp", "config": ["host": "h.example.com"]],
                                         ["name": "a", "type": "smtp", "config": ["host": "h2.example.com"]]]]),
            ]
            for (channel, body) in invalid {
                let response = try await client.json(.put, "/v1/admin/notifications/channels/\(channel)", bearer: app.adminKey, body: body)
                #expect(response.status.code >= 400 && response.status.code < 500, "\(body) → \(response.body)")
                #expect(response.errorCode != nil)
            }
            // The refused updates stored nothing: the email channel still has its one good provider.
            let after = try await client.json(.get, "/v1/admin/notifications/channels/email", bearer: app.adminKey)
            #expect(after.body["providers"]?.arrayValues?.count == 1)
            #expect(try await client.json(.get, "/v1/admin/notifications/channels/email", bearer: alice).status == .forbidden)
        }
    }
}
