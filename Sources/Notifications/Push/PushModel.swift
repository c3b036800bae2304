import Foundation
import ParleyCore

/// The push services Parley speaks to directly.
public enum PushPlatform: String, Sendable, Codable, CaseIterable, Hashable {
    /// Apple Push Notification service, HTTP/2 with a provider token (ES256).
    case apns
    /// Firebase Cloud Messaging, HTTP v1 API with a service-account OAuth token.
    case fcm
    /// Web Push (RFC 8030) with VAPID (RFC 8292) and `aes128gcm` payload encryption (RFC 8291).
    case webpush
}

/// One place a user's pushes go: a phone app install (APNs/FCM token) or a browser's push subscription.
public struct PushDevice: Sendable, Equatable {
    public var id: String
    public var user: UserID
    public var platform: PushPlatform
    /// The APNs device token (hex), the FCM registration token, or the Web Push subscription endpoint URL.
    public var token: String
    /// Web Push only: the subscription's P-256 public key (`keys.p256dh`, base64url, uncompressed point).
    public var p256dh: String?
    /// Web Push only: the subscription's 16-byte authentication secret (`keys.auth`, base64url).
    public var auth: String?
    /// APNs only: the app's bundle id when it is not the provider's default topic.
    public var appID: String?
    /// APNs only: a token from a development build goes to the sandbox gateway.
    public var sandbox: Bool
    public var locale: String?
    public var createdAt: Date
    public var lastUsedAt: Date?

    public init(
        id: String, user: UserID, platform: PushPlatform, token: String, p256dh: String? = nil, auth: String? = nil,
        appID: String? = nil, sandbox: Bool = false, locale: String? = nil, createdAt: Date, lastUsedAt: Date? = nil
    ) {
        self.id = id
        self.user = user
        self.platform = platform
        self.token = token
        self.p256dh = p256dh
        self.auth = auth
        self.appID = appID
        self.sandbox = sandbox
        self.locale = locale
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

/// What one push says, independent of the service that carries it.
public struct PushContent: Sendable, Equatable {
    public var notificationID: String
    public var title: String
    public var body: String
    public var category: String
    /// Sent to the app as custom data (APNs: top-level keys beside `aps`; FCM: `data`, values as strings;
    /// Web Push: inside the encrypted JSON payload).
    public var data: [String: JSONValue]
    public var clickURL: String?
    /// The app icon badge (the user's unread count), when known.
    public var badge: Int?
    /// Pushes with the same collapse id replace each other on the device (one per conversation).
    public var collapseID: String?
    /// High priority wakes the device now (APNs priority 10, FCM `HIGH`, Web Push `Urgency: high`);
    /// otherwise the service may batch it (APNs 5, FCM `NORMAL`, Web Push `normal`).
    public var urgent: Bool
    /// How long the service keeps it for an offline device.
    public var timeToLive: Duration

    public init(
        notificationID: String, title: String, body: String, category: String, data: [String: JSONValue] = [:],
        clickURL: String? = nil, badge: Int? = nil, collapseID: String? = nil, urgent: Bool = false,
        timeToLive: Duration = .seconds(86_400)
    ) {
        self.notificationID = notificationID
        self.title = title
        self.body = body
        self.category = category
        self.data = data
        self.clickURL = clickURL
        self.badge = badge
        self.collapseID = collapseID
        self.urgent = urgent
        self.timeToLive = timeToLive
    }
}

/// What a push service said about one device.
public enum PushSendResult: Sendable, Equatable {
    /// The service accepted the push (`id` is its message id when it returns one).
    case accepted(id: String?)
    /// The token or subscription is no longer valid (APNs 410/`BadDeviceToken`, FCM `UNREGISTERED`,
    /// Web Push 404/410): the device must be forgotten.
    case deviceGone(reason: String)
}

/// One configured push service account (an APNs key, an FCM project, a VAPID key pair).
///
/// `send` throws `ChannelFailure` on failure: `permanent` when retrying cannot help (a malformed payload, a
/// rejected credential), otherwise the job queue retries it, possibly through the next provider.
public protocol PushSender: Sendable {
    var platform: PushPlatform { get }
    func send(_ content: PushContent, to device: PushDevice) async throws -> PushSendResult
}
