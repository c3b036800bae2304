import ParleyTestSupport
import Crypto
import Foundation
import Notifications
import ParleyCore
import ParleyOutbound
import Synchronization
import Testing

@Suite("APNs sender against a local HTTP/2 gateway over TLS")
struct APNsTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)
    static let deviceToken = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

    static let content = PushContent(
        notificationID: "n_42", title: "Bob", body: "Are you coming tonight?", category: "message",
        data: ["conversation_id": "c_7", "seq": 12], clickURL: "https://app.example.com/c/c_7", badge: 3, collapseID: "conversation:c_7",
        urgent: true, timeToLive: .seconds(3600)
    )

    static func device(token: String = deviceToken, sandbox: Bool = false, appID: String? = nil) -> PushDevice {
        PushDevice(
            id: "ios-1", user: UserID(trusted: "alice"), platform: .apns, token: token, appID: appID, sandbox: sandbox, createdAt: start
        )
    }

    /// Runs `body` with a TLS HTTP/2 gateway answering with `handler`, an outbound client that trusts the
    /// test CA, and an APNs sender whose production and sandbox URLs point at the gateway.
    static func withGateway(
        clock: ManualWallClock, key: P256.Signing.PrivateKey, handler: @escaping PushServiceStub.Handler,
        _ body: @Sendable (PushServiceStub, APNsSender) async throws -> Void
    ) async throws {
        let certificates = try TestTLSMaterial.make()
        let http = try AsyncHTTPOutbound(additionalTrustRootsPEMFile: certificates.caCertificate.path)
        do {
            try await PushServiceStub.run(tls: certificates.serverConfiguration(), handler: handler) { stub in
                let configuration = APNsConfiguration(
                    teamID: "TEAM123456", keyID: "KEY987654A", privateKey: key.pemRepresentation, topic: "com.example.parley",
                    productionURL: stub.baseURL, sandboxURL: stub.url("/sandbox")
                )
                try await body(stub, APNsSender(configuration: configuration, http: http, clock: clock))
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    static func bearer(_ request: PushServiceStub.Received) throws -> TestJWT {
        let authorization = try #require(request[header: "authorization"])
        #expect(authorization.hasPrefix("bearer "))
        return try TestJWT(String(authorization.dropFirst("bearer ".count)))
    }

    @Test("A push goes over HTTP/2 to /3/device/<token> with Apple's headers, a verifiable provider token and the aps body")
    func deliversOverHTTP2() async throws {
        let clock = ManualWallClock(Self.start)
        let key = P256.Signing.PrivateKey()

        try await Self.withGateway(clock: clock, key: key, handler: { _ in .init(status: 200, body: "") }) { stub, sender in
            let result = try await sender.send(Self.content, to: Self.device())

            let request = try #require(stub.received.first)
            #expect(stub.received.count == 1)
            #expect(request.isHTTP2)
            #expect(request.method == "POST")
            #expect(request.path == "/3/device/\(Self.deviceToken)")
            #expect(request[header: "apns-topic"] == "com.example.parley")
            #expect(request[header: "apns-push-type"] == "alert")
            #expect(request[header: "apns-priority"] == "10")
            #expect(request[header: "apns-expiration"] == String(Int(Self.start.timeIntervalSince1970) + 3600))
            #expect(request[header: "apns-collapse-id"] == "conversation:c_7")
            let apnsID = try #require(request[header: "apns-id"])
            #expect(UUID(uuidString: apnsID) != nil)
            #expect(result == .accepted(id: apnsID))

            let jwt = try Self.bearer(request)
            #expect(jwt.isSigned(by: key.publicKey))
            #expect(jwt.header["alg"] == "ES256")
            #expect(jwt.header["kid"] == "KEY987654A")
            #expect(jwt.claims["iss"] == "TEAM123456")
            #expect(jwt.claims["iat"] == .int(Int(Self.start.timeIntervalSince1970)))

            let body = try JSONDecoder().decode(JSONValue.self, from: request.body)
            #expect(body == [
                "aps": [
                    "alert": ["title": "Bob", "body": "Are you coming tonight?"],
                    "badge": 3, "sound": "default", "thread-id": "conversation:c_7", "mutable-content": 1,
                ],
                "conversation_id": "c_7", "seq": 12,
                "notification_id": "n_42", "category": "message", "click_url": "https://app.example.com/c/c_7",
            ])
        }
    }

    @Test("A sandbox device goes to the sandbox gateway; a device's app id overrides the topic; a quiet push has priority 5")
    func sandboxTopicAndPriority() async throws {
        let clock = ManualWallClock(Self.start)
        var quiet = Self.content
        quiet.urgent = false
        quiet.collapseID = nil
        quiet.badge = nil
        let quietContent = quiet

        let key = P256.Signing.PrivateKey()
        try await Self.withGateway(clock: clock, key: key, handler: { _ in .init(status: 200, body: "") }) { stub, sender in
            _ = try await sender.send(quietContent, to: Self.device(sandbox: true, appID: "com.example.other"))

            let request = try #require(stub.received.first)
            #expect(request.path == "/sandbox/3/device/\(Self.deviceToken)")
            #expect(request[header: "apns-topic"] == "com.example.other")
            #expect(request[header: "apns-priority"] == "5")
            #expect(request[header: "apns-collapse-id"] == nil)
            let body = try JSONDecoder().decode(JSONValue.self, from: request.body)
            #expect(body["aps"]?["badge"] == nil)
            #expect(body["aps"]?["thread-id"] == nil)
        }
    }

    @Test("The provider token is reused across sends and replaced after 50 minutes")
    func providerTokenIsCached() async throws {
        let clock = ManualWallClock(Self.start)
        let key = P256.Signing.PrivateKey()

        try await Self.withGateway(clock: clock, key: key, handler: { _ in .init(status: 200, body: "") }) { stub, sender in
            _ = try await sender.send(Self.content, to: Self.device())
            clock.advance(by: 20 * 60)
            _ = try await sender.send(Self.content, to: Self.device())
            clock.advance(by: 31 * 60)
            _ = try await sender.send(Self.content, to: Self.device())

            let tokens = stub.received.map { $0[header: "authorization"] }
            #expect(tokens.count == 3)
            #expect(tokens[0] == tokens[1])
            #expect(tokens[2] != tokens[1])
            let renewed = try Self.bearer(stub.received[2])
            #expect(renewed.isSigned(by: key.publicKey))
            #expect(renewed.claims["iat"] == .int(Int(Self.start.timeIntervalSince1970) + 51 * 60))
        }
    }

    @Test("ExpiredProviderToken is retried once with a newly signed token")
    func expiredProviderTokenIsRetriedOnce() async throws {
        let clock = ManualWallClock(Self.start)
        let key = P256.Signing.PrivateKey()
        let answered = Mutex(0)

        let handler: PushServiceStub.Handler = { _ in
            let count = answered.withLock { count in
                count += 1
                return count
            }
            guard count == 1 else { return .init(status: 200, body: "") }
            // Some time has passed since the token was signed, as when Apple calls one expired.
            clock.advance(by: 60)
            return .init(status: 403, body: #"{"reason":"ExpiredProviderToken"}"#)
        }
        try await Self.withGateway(clock: clock, key: key, handler: handler) { stub, sender in
            let result = try await sender.send(Self.content, to: Self.device())

            guard case .accepted = result else {
                Issue.record("expected accepted, got \(result)")
                return
            }
            let requests = stub.received
            #expect(requests.count == 2)
            let first = try Self.bearer(requests[0])
            let second = try Self.bearer(requests[1])
            #expect(second.isSigned(by: key.publicKey))
            #expect(first.claims["iat"] == .int(Int(Self.start.timeIntervalSince1970)))
            #expect(second.claims["iat"] == .int(Int(Self.start.timeIntervalSince1970) + 60))
            #expect(requests[0][header: "apns-id"] == requests[1][header: "apns-id"])
        }
    }

    @Test("A second ExpiredProviderToken in a row is a retryable failure, not a loop")
    func repeatedlyExpiredTokenFails() async throws {
        let reply = PushServiceStub.Reply(status: 403, body: #"{"reason":"ExpiredProviderToken"}"#)
        let clock = ManualWallClock(Self.start)
        try await Self.withGateway(clock: clock, key: P256.Signing.PrivateKey(), handler: { _ in reply }) { stub, sender in
            let failure = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: Self.device()) }
            #expect(failure?.permanent == false)
            #expect(stub.received.count == 2)
        }
    }

    @Test("410 and token reasons mean the device is gone; other refusals are permanent; 429 and 5xx are retryable")
    func responses() async throws {
        // The device token's last two hex digits pick the scripted answer.
        let replies: [String: PushServiceStub.Reply] = [
            "01": .init(status: 410, body: #"{"reason":"Unregistered","timestamp":1767225600000}"#),
            "02": .init(status: 400, body: #"{"reason":"BadDeviceToken"}"#),
            "03": .init(status: 400, body: #"{"reason":"DeviceTokenNotForTopic"}"#),
            "04": .init(status: 400, body: #"{"reason":"PayloadTooLarge"}"#),
            "05": .init(status: 403, body: #"{"reason":"InvalidProviderToken"}"#),
            "06": .init(status: 429, body: #"{"reason":"TooManyRequests"}"#),
            "07": .init(status: 503, body: #"{"reason":"ServiceUnavailable"}"#),
        ]
        let handler: PushServiceStub.Handler = { request in replies[String(request.path.suffix(2))] ?? .init(status: 200, body: "") }
        try await Self.withGateway(clock: ManualWallClock(Self.start), key: P256.Signing.PrivateKey(), handler: handler) { _, sender in
            let prefix = String(Self.deviceToken.dropLast(2))
            for (suffix, reason) in [("01", "Unregistered"), ("02", "BadDeviceToken"), ("03", "DeviceTokenNotForTopic")] {
                let result = try await sender.send(Self.content, to: Self.device(token: prefix + suffix))
                #expect(result == .deviceGone(reason: reason))
            }
            for (suffix, permanent, reason) in [
                ("04", true, "PayloadTooLarge"), ("05", true, "InvalidProviderToken"), ("06", false, "TooManyRequests"),
                ("07", false, "ServiceUnavailable"),
            ] {
                let device = Self.device(token: prefix + suffix)
                let failure = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: device) }
                #expect(failure?.permanent == permanent, "\(reason)")
                #expect(failure?.reason.contains(reason) == true)
            }
        }
    }

    @Test("A token that is not hexadecimal is reported gone without a request")
    func malformedTokenIsGone() async throws {
        let clock = ManualWallClock(Self.start)
        try await Self.withGateway(clock: clock, key: P256.Signing.PrivateKey(), handler: { _ in .init() }) { stub, sender in
            let result = try await sender.send(Self.content, to: Self.device(token: "not/a/token"))
            guard case .deviceGone = result else {
                Issue.record("expected deviceGone, got \(result)")
                return
            }
            #expect(stub.received.isEmpty)
        }
    }
}
