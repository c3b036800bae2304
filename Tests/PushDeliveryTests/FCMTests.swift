import _CryptoExtras
import Foundation
import Notifications
import ParleyCore
import ParleyOutbound
import Testing

@Suite("FCM sender against a local Google stand-in")
struct FCMTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)

    static let content = PushContent(
        notificationID: "n_42", title: "Bob", body: "Are you coming tonight?", category: "message",
        data: ["conversation_id": "c_7", "seq": 12, "flags": ["a", true], "gone": .null, "google.sent_time": "1"],
        clickURL: "https://app.example.com/c/c_7", badge: 3, collapseID: "conversation:c_7", urgent: true, timeToLive: .seconds(86_400)
    )

    static func device(_ token: String = "fcm-token-1") -> PushDevice {
        PushDevice(id: "android-1", user: UserID(trusted: "alice"), platform: .fcm, token: token, createdAt: start)
    }

    /// Runs `body` with a Google stand-in that knows `key`'s public half, and an FCM sender configured from a
    /// service-account JSON (as Google's console downloads it) whose token URI and base URL point at it.
    static func withGoogle(
        clock: ManualWallClock, signingKey: _RSA.Signing.PrivateKey? = nil, projectID: String = FakeGoogle.projectID,
        _ body: @Sendable (FakeGoogle, PushServiceStub, any PushSender) async throws -> Void
    ) async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let google = FakeGoogle(publicKey: key.publicKey, clock: clock)
        let accountKey = signingKey ?? key
        try await PushServiceStub.run(handler: { google.handle($0) }) { stub in
            google.state.withLock { $0.tokenURI = stub.url("/token") }
            let config: JSONValue = [
                "service_account": [
                    "type": "service_account",
                    "project_id": .string(projectID),
                    "private_key_id": "key-1",
                    "private_key": .string(accountKey.pkcs8PEMRepresentation),
                    "client_email": .string(FakeGoogle.clientEmail),
                    "client_id": "1234567890",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": .string(stub.url("/token")),
                ],
                "base_url": .string(stub.baseURL),
            ]
            let sender = try PushSenderFactory.make(type: .fcm, config: config, http: AsyncHTTPOutbound(), clock: clock)
            #expect(sender.platform == .fcm)
            try await body(google, stub, sender)
        }
    }

    @Test("A push carries a bearer token from a verified service-account assertion and the v1 message body")
    func deliversAMessage() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGoogle(clock: clock) { google, stub, sender in
            let result = try await sender.send(Self.content, to: Self.device())

            #expect(google.problems.isEmpty, "\(google.problems)")
            #expect(result == .accepted(id: "projects/\(FakeGoogle.projectID)/messages/1"))
            let send = try #require(stub.received.last)
            #expect(send[header: "authorization"] == "Bearer ya29.test-1")
            #expect(send[header: "content-type"] == "application/json")
            let expiration = String(Int(Self.start.timeIntervalSince1970) + 86_400)
            let message = try #require(google.messages.first)
            let topic = try #require(message["message"]?["webpush"]?["headers"]?["Topic"]?.stringValue)
            #expect(!topic.isEmpty && topic.count <= 32)
            #expect(message == [
                "message": [
                    "token": "fcm-token-1",
                    "notification": ["title": "Bob", "body": "Are you coming tonight?"],
                    "data": [
                        "conversation_id": "c_7", "seq": "12", "flags": #"["a",true]"#,
                        "notification_id": "n_42", "category": "message", "click_url": "https://app.example.com/c/c_7",
                    ],
                    "android": [
                        "priority": "HIGH", "ttl": "86400s", "collapse_key": "conversation:c_7", "notification": ["notification_count": 3],
                    ],
                    "apns": [
                        "headers": ["apns-priority": "10", "apns-expiration": .string(expiration), "apns-collapse-id": "conversation:c_7"],
                        "payload": ["aps": ["badge": 3]],
                    ],
                    "webpush": [
                        "headers": [
                            "Urgency": "high", "TTL": "86400",
                            "Topic": .string(topic),
                        ],
                    ],
                ],
            ])
        }
    }

    @Test("The access token is fetched once for several sends and again only shortly before it expires")
    func accessTokenIsCached() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGoogle(clock: clock) { google, stub, sender in
            for index in 1...3 {
                let result = try await sender.send(Self.content, to: Self.device("fcm-token-\(index)"))
                #expect(result == .accepted(id: "projects/\(FakeGoogle.projectID)/messages/\(index)"))
            }
            #expect(google.issued == ["ya29.test-1"])

            // expires_in is 3599 s: 50 minutes later the token is still used, 56 minutes later it is renewed.
            clock.advance(by: 50 * 60)
            _ = try await sender.send(Self.content, to: Self.device())
            #expect(google.issued == ["ya29.test-1"])
            clock.advance(by: 6 * 60)
            _ = try await sender.send(Self.content, to: Self.device())
            #expect(google.issued == ["ya29.test-1", "ya29.test-2"])

            #expect(google.problems.isEmpty, "\(google.problems)")
            #expect(stub.received.filter { $0.path == "/token" }.count == 2)
            #expect(stub.received.last?[header: "authorization"] == "Bearer ya29.test-2")
        }
    }

    @Test("Concurrent sends share one token request")
    func concurrentSendsShareOneTokenRequest() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGoogle(clock: clock) { google, _, sender in
            try await withThrowingTaskGroup(of: PushSendResult.self) { group in
                for index in 1...5 {
                    group.addTask { try await sender.send(Self.content, to: Self.device("fcm-token-\(index)")) }
                }
                for try await result in group {
                    guard case .accepted = result else {
                        Issue.record("expected accepted, got \(result)")
                        continue
                    }
                }
            }
            #expect(google.issued == ["ya29.test-1"])
            #expect(google.messages.count == 5)
        }
    }

    @Test("A 401 drops the cached token, fetches a new one and retries once")
    func unauthorisedRefetchesAndRetries() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGoogle(clock: clock) { google, stub, sender in
            _ = try await sender.send(Self.content, to: Self.device())
            google.revokeAll()

            let result = try await sender.send(Self.content, to: Self.device())

            #expect(result == .accepted(id: "projects/\(FakeGoogle.projectID)/messages/2"))
            #expect(google.issued == ["ya29.test-1", "ya29.test-2"])
            let sends = stub.received.filter { $0.path.hasSuffix("messages:send") }
            #expect(sends.map { $0[header: "authorization"] } == ["Bearer ya29.test-1", "Bearer ya29.test-1", "Bearer ya29.test-2"])
            #expect(google.problems.isEmpty, "\(google.problems)")
        }
    }

    @Test("UNREGISTERED and an invalid registration token mean the device is gone; 503 is retryable; other 400s are permanent")
    func responses() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGoogle(clock: clock) { google, _, sender in
            for token in ["gone-token", "malformed-token"] {
                let result = try await sender.send(Self.content, to: Self.device(token))
                guard case .deviceGone(let reason) = result else {
                    Issue.record("\(token) gave \(result)")
                    continue
                }
                #expect(reason.contains(token == "gone-token" ? "UNREGISTERED" : "INVALID_ARGUMENT"))
            }
            let busy = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: Self.device("busy-token")) }
            #expect(busy?.permanent == false)
            let bad = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: Self.device("bad-message")) }
            #expect(bad?.permanent == true)
            #expect(bad?.reason.contains("message.android.ttl") == true)
            #expect(google.problems.isEmpty, "\(google.problems)")
        }
    }

    @Test("A 404 without UNREGISTERED (a wrong project or URL) fails the channel and keeps the device")
    func notFoundWithoutUnregisteredKeepsTheDevice() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGoogle(clock: clock, projectID: "some-other-project") { _, stub, sender in
            let failure = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: Self.device()) }
            #expect(failure?.permanent == true)
            #expect(failure?.reason.contains("404") == true)
            #expect(stub.received.contains { $0.path == "/v1/projects/some-other-project/messages:send" })
        }
    }

    @Test("A service account Google does not recognise is a permanent failure")
    func refusedServiceAccount() async throws {
        let clock = ManualWallClock(Self.start)
        let stranger = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try await Self.withGoogle(clock: clock, signingKey: stranger) { google, stub, sender in
            let failure = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: Self.device()) }
            #expect(failure?.permanent == true)
            #expect(failure?.reason.contains("invalid_grant") == true)
            #expect(google.issued.isEmpty)
            #expect(stub.received.allSatisfy { $0.path == "/token" })
        }
    }
}
