import Events
import Foundation
import Logging
import ParleyCore
import ParleyOutbound
import ParleyTestSupport
import Testing

/// The before-send hook against a real HTTP server on a loopback port: each answer the platform may give,
/// and each way it may fail, under both failure policies.
@Suite struct BeforeSendHookTests {
    static let submission = ContentSubmission(kind: "message", actor: "user:alice",
                                              context: ["conversation_id": "c_1", "message_kind": "text"], body: ["text": "hello"])

    static func hook(_ url: String, failOpen: Bool = true, timeout: Duration = .seconds(5), secret: String? = nil) -> BeforeSendHook {
        BeforeSendHook(settings: BeforeSendHookSettings(url: url, timeout: timeout, failOpen: failOpen, secret: secret),
                       http: AsyncHTTPOutbound(), logger: TestDatabases.logger)
    }

    static let unavailable = ContentVerdict.reject(code: "hooks.unavailable", reason: "The content check is unavailable; try again shortly.")

    @Test func anAllowAnswerLetsTheContentThroughAndTheHookSeesWhatIsSent() async throws {
        try await TestReceiver.run { receiver in
            receiver.script([.init(body: #"{"action": "allow"}"#)])
            let verdict = try await Self.hook(receiver.url).review(Self.submission)
            #expect(verdict == .allow)
            let request = try #require(receiver.received.first)
            let sent = try JSONDecoder().decode(JSONValue.self, from: request.body)
            #expect(sent == [
                "type": "before_send", "kind": "message", "actor": "user:alice",
                "context": ["conversation_id": "c_1", "message_kind": "text"], "body": ["text": "hello"],
            ])
            #expect(request[header: "Content-Type"] == "application/json")
            #expect(request[header: WebhookSignature.header] == nil, "no secret, no signature")
        }
    }

    @Test func aRejectAnswerCarriesThePlatformsReason() async throws {
        try await TestReceiver.run { receiver in
            receiver.script([.init(body: #"{"action": "reject", "reason": "No links to competitors, please."}"#)])
            let verdict = try await Self.hook(receiver.url).review(Self.submission)
            #expect(verdict == .reject(code: "hooks.rejected", reason: "No links to competitors, please."))
            receiver.script([.init(body: #"{"action": "reject"}"#)])
            let fallbackReason = try await Self.hook(receiver.url).review(Self.submission)
            #expect(fallbackReason == .reject(code: "hooks.rejected", reason: "The platform refused this content."))
        }
    }

    @Test func aRewriteAnswerReplacesTheBody() async throws {
        try await TestReceiver.run { receiver in
            receiver.script([.init(body: #"{"action": "rewrite", "body": {"text": "h***o", "flagged": true}}"#)])
            let verdict = try await Self.hook(receiver.url).review(Self.submission)
            #expect(verdict == .rewrite(["text": "h***o", "flagged": true]))
            // A rewrite without an object body is a broken answer, like any other.
            receiver.script([.init(body: #"{"action": "rewrite", "body": "h***o"}"#)])
            let broken = try await Self.hook(receiver.url, failOpen: false).review(Self.submission)
            #expect(broken == Self.unavailable)
        }
    }

    @Test(arguments: [true, false])
    func aHookSlowerThanItsTimeoutFollowsTheFailurePolicy(failOpen: Bool) async throws {
        try await TestReceiver.run { receiver in
            receiver.script([.init(body: #"{"action": "reject", "reason": "too late"}"#, delay: .seconds(2))])
            // The answer (reject) arrives after 2 s; a verdict of the failure policy shows the hook gave up at its
            // 300 ms timeout instead (no wall-clock assertion: these machines are shared and noisy).
            let verdict = try await Self.hook(receiver.url, failOpen: failOpen, timeout: .milliseconds(300)).review(Self.submission)
            #expect(verdict == (failOpen ? .allow : Self.unavailable))
        }
    }

    @Test(arguments: [true, false])
    func anErrorStatusOrAnAnswerThatIsNotJSONFollowsTheFailurePolicy(failOpen: Bool) async throws {
        try await TestReceiver.run { receiver in
            let expected: ContentVerdict = failOpen ? .allow : Self.unavailable
            let broken: [TestReceiver.Reply] = [
                .init(status: 500, body: #"{"action": "allow"}"#),
                .init(status: 404, body: "not here"),
                .init(status: 200, body: "<html>ok</html>"),
                .init(status: 200, body: #"{"verdict": "allow"}"#),
                .init(status: 200, body: #"{"action": "maybe"}"#),
            ]
            for reply in broken {
                receiver.script([reply])
                let verdict = try await Self.hook(receiver.url, failOpen: failOpen).review(Self.submission)
                #expect(verdict == expected, "\(reply.status) \(reply.body)")
            }
            #expect(receiver.received.count == broken.count)
        }
    }

    @Test(arguments: [true, false])
    func anUnreachableHookFollowsTheFailurePolicy(failOpen: Bool) async throws {
        // Port 9 on loopback (discard) has nobody listening in the test environment: the connection is refused.
        let verdict = try await Self.hook("http://127.0.0.1:9/hook", failOpen: failOpen, timeout: .seconds(2)).review(Self.submission)
        #expect(verdict == (failOpen ? .allow : Self.unavailable))
    }

    @Test func withASecretTheRequestIsSignedLikeAWebhook() async throws {
        try await TestReceiver.run { receiver in
            receiver.script([.init(body: #"{"action": "allow"}"#)])
            let secret = "hook_secret_0123456789abcdef"
            let verdict = try await Self.hook(receiver.url, secret: secret).review(Self.submission)
            #expect(verdict == .allow)
            let request = try #require(receiver.received.first)
            let signature = try #require(request[header: WebhookSignature.header])
            #expect(WebhookSignature.verify(headerValue: signature, body: request.body, secret: secret, now: Date()))
            #expect(!WebhookSignature.verify(headerValue: signature, body: request.body, secret: "another_secret_0123456789", now: Date()))
        }
    }
}
