import ParleyTestSupport
import Crypto
import Foundation
import Notifications
import ParleyCore
import ParleyOutbound
import Testing

@Suite("Web Push sender against a local push service")
struct WebPushTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)

    static func sender(clock: ManualWallClock, timeout: Duration = .seconds(10)) throws -> (WebPushSender, WebPushConfiguration) {
        let keys = WebPushSender.generateVAPIDKeyPair()
        let configuration = WebPushConfiguration(
            vapidPublicKey: keys.publicKey, vapidPrivateKey: keys.privateKey, subject: "mailto:push@example.com"
        )
        return (try WebPushSender(configuration: configuration, http: AsyncHTTPOutbound(), clock: clock, timeout: timeout), configuration)
    }

    static func device(endpoint: String, userAgent: TestUserAgent) -> PushDevice {
        PushDevice(
            id: "d1", user: UserID(trusted: "alice"), platform: .webpush, token: endpoint, p256dh: userAgent.p256dh, auth: userAgent.auth,
            createdAt: start
        )
    }

    static let content = PushContent(
        notificationID: "n_42", title: "Bob", body: "Are you coming tonight?", category: "message",
        data: ["conversation_id": "c_7", "seq": 12], clickURL: "https://app.example.com/c/c_7", badge: 3, collapseID: "conversation:c_7",
        urgent: true, timeToLive: .seconds(3600)
    )

    /// The parameters of `Authorization: vapid t=<JWT>, k=<public key>`.
    static func vapidParameters(_ authorization: String) -> [String: String] {
        var parameters: [String: String] = [:]
        for part in authorization.dropFirst("vapid ".count).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { parameters[pair[0]] = pair[1] }
        }
        return parameters
    }

    @Test("A push is encrypted to the subscription and authorised with a VAPID token the push service can verify")
    func deliversAVerifiablePush() async throws {
        let clock = ManualWallClock(Self.start)
        let (sender, configuration) = try Self.sender(clock: clock)
        let userAgent = TestUserAgent()

        try await PushServiceStub.run(handler: { _ in .init(status: 201, body: "") }) { stub in
            let result = try await sender.send(Self.content, to: Self.device(endpoint: stub.url("/wpush/v2/abc123"), userAgent: userAgent))
            #expect(result == .accepted(id: nil))

            let request = try #require(stub.received.first)
            #expect(stub.received.count == 1)
            #expect(request.method == "POST")
            #expect(request.path == "/wpush/v2/abc123")
            #expect(!request.isHTTP2)
            #expect(request[header: "Content-Encoding"] == "aes128gcm")
            #expect(request[header: "Content-Type"] == "application/octet-stream")
            #expect(request[header: "TTL"] == "3600")
            #expect(request[header: "Urgency"] == "high")
            let topic = try #require(request[header: "Topic"])
            #expect(topic.count <= 32 && !topic.isEmpty)
            #expect(topic.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            #expect(!topic.contains("c_7"))

            // Authorization: vapid t=<JWT>, k=<the VAPID public key>
            let authorization = try #require(request[header: "Authorization"])
            #expect(authorization.hasPrefix("vapid "))
            let parameters = Self.vapidParameters(authorization)
            #expect(parameters["k"] == configuration.vapidPublicKey)
            let k = try #require(parameters["k"])
            let key = try P256.Signing.PublicKey(x963Representation: #require(Data(base64URLEncoded: k)))
            let jwt = try TestJWT(#require(parameters["t"]))
            #expect(jwt.isSigned(by: key))
            #expect(jwt.header["typ"] == "JWT")
            #expect(jwt.claims["aud"] == .string("http://127.0.0.1:\(stub.port)"))
            #expect(jwt.claims["sub"] == "mailto:push@example.com")
            let expiry = try #require(jwt.claims["exp"]?.intValue)
            let now = Int(Self.start.timeIntervalSince1970)
            #expect(expiry > now && expiry <= now + 24 * 3600)

            // The browser opens the body with its private key and auth secret.
            let payload = try JSONDecoder().decode(JSONValue.self, from: userAgent.decrypt(request.body))
            #expect(payload == [
                "title": "Bob", "body": "Are you coming tonight?", "category": "message", "notification_id": "n_42",
                "data": ["conversation_id": "c_7", "seq": 12], "click_url": "https://app.example.com/c/c_7", "badge": 3,
            ])
        }
    }

    @Test("A push without urgency or collapse id is sent normal, without a topic; one collapse id always gives one topic")
    func normalUrgencyAndStableTopics() async throws {
        let clock = ManualWallClock(Self.start)
        let (sender, _) = try Self.sender(clock: clock)
        let userAgent = TestUserAgent()
        var quiet = Self.content
        quiet.urgent = false
        quiet.collapseID = nil
        quiet.badge = nil
        quiet.clickURL = nil
        let quietContent = quiet

        try await PushServiceStub.run(handler: { _ in .init(status: 201, body: "") }) { stub in
            let device = Self.device(endpoint: stub.url("/push/1"), userAgent: userAgent)
            #expect(try await sender.send(quietContent, to: device) == .accepted(id: nil))
            #expect(try await sender.send(Self.content, to: device) == .accepted(id: nil))
            #expect(try await sender.send(Self.content, to: device) == .accepted(id: nil))

            let requests = stub.received
            #expect(requests.count == 3)
            #expect(requests[0][header: "Urgency"] == "normal")
            #expect(requests[0][header: "Topic"] == nil)
            #expect(requests[1][header: "Topic"] != nil)
            #expect(requests[1][header: "Topic"] == requests[2][header: "Topic"])
            let payload = try JSONDecoder().decode(JSONValue.self, from: userAgent.decrypt(requests[0].body))
            #expect(payload["click_url"] == nil)
            #expect(payload["badge"] == nil)
            #expect(payload["title"] == "Bob")
        }
    }

    @Test("One VAPID token per push service is reused for eleven hours, then replaced")
    func vapidTokensAreReusedPerPushService() async throws {
        let clock = ManualWallClock(Self.start)
        let (sender, _) = try Self.sender(clock: clock)
        let userAgent = TestUserAgent()
        try await PushServiceStub.run(handler: { _ in .init(status: 201, body: "") }) { stub in
            let device = Self.device(endpoint: stub.url("/push/1"), userAgent: userAgent)
            let other = Self.device(endpoint: stub.url("/push/2"), userAgent: userAgent)
            #expect(try await sender.send(Self.content, to: device) == .accepted(id: nil))
            clock.advance(by: 10 * 3600)
            #expect(try await sender.send(Self.content, to: other) == .accepted(id: nil))
            clock.advance(by: 3600 + 1)
            #expect(try await sender.send(Self.content, to: device) == .accepted(id: nil))
            let tokens = stub.received.map { $0[header: "Authorization"] }
            #expect(tokens.count == 3)
            #expect(tokens[0] == tokens[1])
            #expect(tokens[2] != tokens[0])
            // The new token expires 12 hours after it was signed.
            let latest = try #require(tokens[2])
            let jwt = try TestJWT(#require(Self.vapidParameters(latest)["t"]))
            #expect(jwt.claims["exp"]?.intValue == Int(clock.now().timeIntervalSince1970) + 12 * 3600)
            // Another push service (another origin) gets a token of its own.
            try await PushServiceStub.run(handler: { _ in .init(status: 201, body: "") }) { otherService in
                let elsewhere = Self.device(endpoint: otherService.url("/push/3"), userAgent: userAgent)
                #expect(try await sender.send(Self.content, to: elsewhere) == .accepted(id: nil))
                let token = try #require(otherService.received.first?[header: "Authorization"])
                #expect(token != tokens[2])
                let otherJWT = try TestJWT(#require(Self.vapidParameters(token)["t"]))
                #expect(otherJWT.claims["aud"] == .string("http://127.0.0.1:\(otherService.port)"))
            }
        }
    }

    @Test("410 and 404 mean the subscription is gone; 500 and 429 are retryable; 400 and 413 are not")
    func responses() async throws {
        let clock = ManualWallClock(Self.start)
        let (sender, _) = try Self.sender(clock: clock)
        let userAgent = TestUserAgent()

        try await PushServiceStub.run(handler: { request in
            .init(status: Int(request.path.split(separator: "/").last ?? "") ?? 200, body: #"{"reason":"scripted"}"#)
        }) { stub in
            for status in [410, 404] {
                let device = Self.device(endpoint: stub.url("/push/\(status)"), userAgent: userAgent)
                let result = try await sender.send(Self.content, to: device)
                guard case .deviceGone(let reason) = result else {
                    Issue.record("HTTP \(status) gave \(result)")
                    continue
                }
                #expect(reason.contains("\(status)"))
            }
            for (status, permanent) in [(500, false), (503, false), (429, false), (400, true), (413, true)] {
                let device = Self.device(endpoint: stub.url("/push/\(status)"), userAgent: userAgent)
                let failure = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: device) }
                #expect(failure?.permanent == permanent, "HTTP \(status)")
                #expect(failure?.reason.contains("\(status)") == true)
            }
        }
    }

    @Test("An unreachable push service is a retryable failure")
    func networkFailureIsRetryable() async throws {
        // AsyncHTTPClient retries a refused connection until the request's deadline: keep it short.
        let (sender, _) = try Self.sender(clock: ManualWallClock(Self.start), timeout: .seconds(1))
        // A port nobody listens on: bind a stub, note its port, and stop it.
        let port = try await PushServiceStub.run(handler: { _ in .init() }) { $0.port }
        let device = Self.device(endpoint: "http://127.0.0.1:\(port)/push/1", userAgent: TestUserAgent())

        let failure = await #expect(throws: ChannelFailure.self) { try await sender.send(Self.content, to: device) }
        #expect(failure?.permanent == false)
    }

    @Test("A subscription without usable keys or an https endpoint is reported gone without a request")
    func unusableSubscriptions() async throws {
        let (sender, _) = try Self.sender(clock: ManualWallClock(Self.start))
        let userAgent = TestUserAgent()
        var noKeys = Self.device(endpoint: "https://push.example.com/x", userAgent: userAgent)
        noKeys.p256dh = nil
        var badKey = Self.device(endpoint: "https://push.example.com/x", userAgent: userAgent)
        badKey.p256dh = "BAAA"
        let plainHTTP = Self.device(endpoint: "http://push.example.com/x", userAgent: userAgent)

        for device in [noKeys, badKey, plainHTTP] {
            let result = try await sender.send(Self.content, to: device)
            guard case .deviceGone = result else {
                Issue.record("expected deviceGone, got \(result)")
                continue
            }
        }
    }

    @Test("A generated VAPID key pair is a valid configuration whose public key is the private key's")
    func generatedKeyPair() throws {
        let keys = WebPushSender.generateVAPIDKeyPair()
        let privateKey = try P256.Signing.PrivateKey(rawRepresentation: #require(Data(base64URLEncoded: keys.privateKey)))
        #expect(privateKey.publicKey.x963Representation.base64URLEncodedString() == keys.publicKey)
        #expect(Data(base64URLEncoded: keys.publicKey)?.count == 65)
        let configuration = try WebPushConfiguration(
            json: [
                "vapid_public_key": .string(keys.publicKey), "vapid_private_key": .string(keys.privateKey),
                "subject": "https://example.com",
            ]
        )
        #expect(configuration.vapidPublicKey == keys.publicKey)
    }
}
