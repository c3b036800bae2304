import Foundation
import ParleyCore

/// Sends pushes through Firebase Cloud Messaging's HTTP v1 API (`POST /v1/projects/{id}/messages:send`),
/// authenticated with the service account's OAuth access token.
///
/// One message per device, with the platform blocks FCM forwards to Android, APNs and Web Push set from the
/// content's urgency, lifetime and collapse id. Results: 200 → `.accepted(id:)` with FCM's message name;
/// 404, `UNREGISTERED`/`NOT_FOUND`, or `INVALID_ARGUMENT` about the token → `.deviceGone`; 401 → a new
/// access token and one retry; 429, 5xx and connection failures → retryable; other 4xx → permanent.
public struct FCMSender: PushSender {
    public let platform = PushPlatform.fcm
    let projectID: String
    let baseURL: String
    let tokens: GoogleAccessTokenProvider
    let http: any OutboundHTTP
    let clock: any WallClock
    let timeout: Duration

    /// Data keys FCM rejects (`from`, `notification`, `message_type`, and `google.`/`gcm.` prefixes): dropped
    /// so one odd template field cannot make every send fail.
    static func isReservedDataKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return ["from", "notification", "message_type"].contains(lowered) || lowered.hasPrefix("google") || lowered.hasPrefix("gcm")
    }

    /// - Throws: `ParleyError.invalidField` when the service account or the base URL is malformed.
    public init(
        configuration: FCMConfiguration, http: any OutboundHTTP, clock: any WallClock = SystemWallClock(), timeout: Duration = .seconds(10)
    ) throws(ParleyError) {
        try configuration.validate()
        self.projectID = configuration.serviceAccount.projectID
        self.baseURL = configuration.resolvedBaseURL
        self.tokens = try GoogleAccessTokenProvider(account: configuration.serviceAccount, http: http, clock: clock, timeout: timeout)
        self.http = http
        self.clock = clock
        self.timeout = timeout
    }

    public func send(_ content: PushContent, to device: PushDevice) async throws -> PushSendResult {
        guard !device.token.isEmpty else { return .deviceGone(reason: "the FCM registration token is empty") }
        let body = try PushHTTP.json(Self.message(content, token: device.token, now: clock.now()))
        let url = "\(baseURL)/v1/projects/\(projectID)/messages:send"
        var retriedWithNewToken = false
        while true {
            let accessToken = try await tokens.token()
            let request = OutboundRequest(
                url: url, headers: [("Authorization", "Bearer \(accessToken)"), ("Content-Type", "application/json")], body: body,
                timeout: timeout
            )
            let response = try await PushHTTP.send(request, through: http, service: "FCM")
            if response.status == 200 {
                return .accepted(id: PushHTTP.object(response.body)?["name"]?.stringValue)
            }
            let error = FCMError(response.body)
            // Only FCM's own UNREGISTERED says the token is gone: a bare 404 (a wrong project id or base URL, a proxy)
            // would otherwise forget every device it is tried on.
            if error.codes.contains("UNREGISTERED") {
                return .deviceGone(reason: error.describe(status: response.status))
            }
            if response.status == 400, error.codes.contains("INVALID_ARGUMENT"), error.concernsToken {
                return .deviceGone(reason: error.describe(status: response.status))
            }
            switch response.status {
            case 401 where !retriedWithNewToken:
                await tokens.invalidate(accessToken)
                retriedWithNewToken = true
                continue
            case 429, 500...:
                throw ChannelFailure("FCM answered \(error.describe(status: response.status))")
            default:
                throw ChannelFailure("FCM refused it: \(error.describe(status: response.status))", permanent: true)
            }
        }
    }

    /// The `messages:send` request body.
    static func message(_ content: PushContent, token: String, now: Date) -> JSONValue {
        var data: [String: JSONValue] = [:]
        for (key, value) in content.data where !isReservedDataKey(key) {
            if let text = dataString(value) { data[key] = .string(text) }
        }
        data["notification_id"] = .string(content.notificationID)
        data["category"] = .string(content.category)
        if let clickURL = content.clickURL { data["click_url"] = .string(clickURL) }

        let ttl = PushHTTP.seconds(content.timeToLive)
        var android: [String: JSONValue] = ["priority": content.urgent ? "HIGH" : "NORMAL", "ttl": .string("\(ttl)s")]
        var apnsHeaders: [String: JSONValue] = [
            "apns-priority": content.urgent ? "10" : "5",
            "apns-expiration": .string(String(Int(now.timeIntervalSince1970) + ttl)),
        ]
        var webpushHeaders: [String: JSONValue] = ["Urgency": content.urgent ? "high" : "normal", "TTL": .string(String(ttl))]
        if let collapseID = content.collapseID {
            android["collapse_key"] = .string(collapseID)
            apnsHeaders["apns-collapse-id"] = .string(APNsSender.collapseID(collapseID))
            webpushHeaders["Topic"] = .string(WebPushSender.topic(collapseID))
        }
        var apns: [String: JSONValue] = ["headers": .object(apnsHeaders)]
        if let badge = content.badge {
            android["notification"] = ["notification_count": .int(badge)]
            apns["payload"] = ["aps": ["badge": .int(badge)]]
        }
        return ["message": [
            "token": .string(token),
            "notification": ["title": .string(content.title), "body": .string(content.body)],
            "data": .object(data),
            "android": .object(android),
            "apns": .object(apns),
            "webpush": ["headers": .object(webpushHeaders)],
        ]]
    }

    /// FCM data values must be strings: strings as they are, other values as their JSON text, null left out.
    static func dataString(_ value: JSONValue) -> String? {
        switch value {
        case .null: nil
        case .string(let text): text
        default: (try? PushHTTP.json(value)).map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
