import Events
import Foundation
import ParleyCore
import SQLKit

/// One rendered notification on its way to one user through one external channel.
public struct ChannelMessage: Sendable, Equatable {
    public var notificationID: String
    public var user: UserID
    public var channel: NotificationChannelKind
    public var templateKey: String
    public var category: String
    public var priority: NotificationPriority
    /// The locale the content was rendered in (after fallback).
    public var locale: String
    /// The rendered template fields of this channel (`title`, `body`, ... or `subject`, `html`, `text`).
    public var content: [String: String]
    public var data: [String: JSONValue]
    /// The signed tracked link for this user and channel, when the content has an action URL.
    public var clickURL: String?
    /// 1 for the first attempt.
    public var attempt: Int
}

/// What a channel reports after handing a message over.
public enum ChannelOutcome: Sendable, Equatable {
    /// Accepted by the provider (webhook receiver, SMTP server, push service).
    case sent
    /// Confirmed on the user's device.
    case delivered
}

/// A failed attempt. `permanent` failures (a rejected address, a deleted configuration) are not retried.
public struct ChannelFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var permanent: Bool

    public init(_ reason: String, permanent: Bool = false) {
        self.reason = reason
        self.permanent = permanent
    }

    public var description: String { reason }
}

/// A way to reach users outside the in-app inbox: the platform's webhook, email, and push (Web Push, APNs, FCM).
///
/// The fan-out creates a delivery (and a job) per user only for channels whose template exists and that
/// are available; the delivery job calls `deliver` with retries and backoff from the job queue, and records
/// each outcome as the delivery's state (`sent`, `delivered`, or `failed` with the reason).
public protocol NotificationChannel: Sendable {
    var kind: NotificationChannelKind { get }
    /// Whether the channel is configured and enabled now.
    func isAvailable() async throws -> Bool
    /// Hands the message over. Throw `ChannelFailure` (or any error, which is retried).
    func deliver(_ message: ChannelMessage) async throws -> ChannelOutcome
    /// Of `users`, those the channel can reach (a push device, an email address), or nil when it reaches
    /// everyone. The fan-out creates deliveries only for them, so a broadcast writes no rows for users who
    /// could never get it.
    func reachableUsers(among users: [UserID], on sql: any SQLDatabase) async throws -> Set<UserID>?
}

extension NotificationChannel {
    public func reachableUsers(among users: [UserID], on sql: any SQLDatabase) async throws -> Set<UserID>? { nil }
}

/// The `webhook` channel: each (notification, user) is POSTed to one URL the platform configures, signed
/// like Parley's event webhooks (`Parley-Signature: t=..,v1=HMAC-SHA256(secret, "t.body")`), so the
/// platform can deliver it its own way (SMS, a chat app, ...).
public struct WebhookNotificationChannel: NotificationChannel {
    public let kind = NotificationChannelKind.webhook
    let configs: NotificationChannelConfigs
    let http: any OutboundHTTP
    let clock: any WallClock
    let timeout: Duration

    public init(configs: NotificationChannelConfigs, http: any OutboundHTTP, clock: any WallClock, timeout: Duration = .seconds(10)) {
        self.configs = configs
        self.http = http
        self.clock = clock
        self.timeout = timeout
    }

    public func isAvailable() async throws -> Bool {
        try await configs.webhook()?.enabled ?? false
    }

    public func deliver(_ message: ChannelMessage) async throws -> ChannelOutcome {
        guard let config = try await configs.webhook(), config.enabled else {
            throw ChannelFailure("the webhook channel is not configured or is disabled", permanent: true)
        }
        let body: JSONValue = [
            "type": "notification",
            "notification_id": .string(message.notificationID),
            "user_id": .string(message.user.rawValue),
            "template": .string(message.templateKey),
            "category": .string(message.category),
            "priority": .string(message.priority.rawValue),
            "locale": .string(message.locale),
            "content": .object(message.content.mapValues { .string($0) }),
            "data": .object(message.data),
            "click_url": message.clickURL.map { .string($0) } ?? .null,
            "attempt": .int(message.attempt),
        ]
        let bytes = Data(try body.jsonText().utf8)
        let timestamp = Int(clock.now().timeIntervalSince1970)
        let request = OutboundRequest(url: config.url, headers: [
            ("Content-Type", "application/json"),
            ("User-Agent", "Parley-Notifications/1"),
            (WebhookSignature.header, WebhookSignature.sign(body: bytes, secret: config.secret, timestamp: timestamp)),
            ("Parley-Notification-Id", message.notificationID),
            ("Parley-Delivery-Id", "\(message.notificationID):\(message.user.rawValue):webhook"),
            ("Parley-Delivery-Attempt", String(message.attempt)),
        ], body: bytes, timeout: timeout)
        let response: OutboundResponse
        do {
            response = try await http.send(request)
        } catch {
            throw ChannelFailure("request failed: \(error)")
        }
        switch response.status {
        case 200..<300: return .sent
        case 400, 404, 410, 422: throw ChannelFailure("the receiver refused it: HTTP \(response.status)", permanent: true)
        default: throw ChannelFailure("the receiver answered HTTP \(response.status)")
        }
    }
}
