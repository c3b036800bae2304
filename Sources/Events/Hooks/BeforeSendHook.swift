import Foundation
import Logging
import ParleyCore

/// Where and how to call the platform's before-send hook.
public struct BeforeSendHookSettings: Sendable {
    public var url: String
    public var timeout: Duration
    /// On timeout, connection failure, a non-2xx status or an answer that does not parse: let the content
    /// through (`true`, fail-open) or refuse it (`false`, fail-closed).
    public var failOpen: Bool
    /// When set, requests carry `Parley-Signature` like webhooks do.
    public var secret: String?

    public init(url: String, timeout: Duration = .milliseconds(1500), failOpen: Bool = true, secret: String? = nil) {
        self.url = url
        self.timeout = timeout
        self.failOpen = failOpen
        self.secret = secret
    }
}

/// Asks the platform's backend about content before it is stored.
///
/// Request (POST, JSON): `{"type": "before_send", "kind": "message", "actor": "user:alice",
/// "context": {...}, "body": {...}}`. Answer (2xx, JSON): `{"action": "allow"}`,
/// `{"action": "reject", "reason": "shown to the sender"}` or `{"action": "rewrite", "body": {...}}`.
public struct BeforeSendHook: ContentPolicy {
    let settings: BeforeSendHookSettings
    let http: any OutboundHTTP
    let logger: Logger

    public init(settings: BeforeSendHookSettings, http: any OutboundHTTP, logger: Logger) {
        self.settings = settings
        self.http = http
        self.logger = logger
    }

    public func review(_ submission: ContentSubmission) async throws -> ContentVerdict {
        let request: JSONValue = [
            "type": "before_send", "kind": .string(submission.kind), "actor": .string(submission.actor),
            "context": .object(submission.context), "body": submission.body,
        ]
        let body = Data(try request.jsonText().utf8)
        var headers = [("Content-Type", "application/json"), ("User-Agent", "Parley-Hooks/1")]
        if let secret = settings.secret {
            headers.append((WebhookSignature.header, WebhookSignature.sign(body: body, secret: secret, timestamp: Int(Date().timeIntervalSince1970))))
        }
        do {
            let response = try await http.send(OutboundRequest(url: settings.url, headers: headers, body: body, timeout: settings.timeout))
            guard (200..<300).contains(response.status) else { return unavailable("HTTP \(response.status)") }
            guard let answer = try? JSONDecoder().decode(JSONValue.self, from: response.body), case .string(let action)? = answer["action"] else {
                return unavailable("the answer is not {\"action\": ...}")
            }
            switch action {
            case "allow":
                return .allow
            case "reject":
                let reason = answer["reason"]?.stringValue ?? "The platform refused this content."
                return .reject(code: "hooks.rejected", reason: String(reason.prefix(500)))
            case "rewrite":
                guard case .object = answer["body"] else { return unavailable("a rewrite without an object 'body'") }
                return .rewrite(answer["body"]!)
            default:
                return unavailable("unknown action '\(action)'")
            }
        } catch {
            return unavailable("\(error)")
        }
    }

    func unavailable(_ reason: String) -> ContentVerdict {
        logger.warning("before-send hook unavailable", metadata: ["reason": .string(reason), "fail_open": .stringConvertible(settings.failOpen)])
        return settings.failOpen ? .allow : .reject(code: "hooks.unavailable", reason: "The content check is unavailable; try again shortly.")
    }
}
