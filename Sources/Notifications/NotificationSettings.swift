import Foundation

/// Limits and defaults of the Notifications context.
public struct NotificationSettings: Sendable {
    /// The locale every fallback chain ends with; every template key should have a variant in it.
    public var defaultLocale: String
    /// The category a trigger without one gets; it always exists.
    public var defaultCategory: String
    /// Recipients one fan-out job expands (one transaction each).
    public var fanOutChunkSize: Int
    /// The most user ids one trigger may name; larger audiences are topics or `all`.
    public var maxExplicitRecipients: Int
    /// The largest `data` object, in bytes of JSON.
    public var maxDataBytes: Int
    /// Attempts of one external delivery before it is `failed`.
    public var deliveryMaxAttempts: Int
    /// How long an idempotency key answers with the first response.
    public var idempotencyWindow: TimeInterval
    /// The longest dedup and digest windows.
    public var maxWindow: TimeInterval
    /// The HMAC key of tracked links (`/v1/notifications/{id}/click`); the composition root derives it from Parley's secret.
    public var linkSecret: String
    /// Channels quiet hours do not hold back: the in-app inbox is silent storage, so it fills at once.
    public var quietHoursExemptChannels: Set<NotificationChannelKind>
    /// How long one webhook-channel request may take.
    public var webhookTimeout: Duration

    public init(defaultLocale: String = "en", defaultCategory: String = "general", fanOutChunkSize: Int = 1000,
                maxExplicitRecipients: Int = 1000, maxDataBytes: Int = 32 * 1024, deliveryMaxAttempts: Int = 8,
                idempotencyWindow: TimeInterval = 86_400, maxWindow: TimeInterval = 7 * 86_400, linkSecret: String,
                quietHoursExemptChannels: Set<NotificationChannelKind> = [.inApp], webhookTimeout: Duration = .seconds(10)) {
        self.defaultLocale = defaultLocale
        self.defaultCategory = defaultCategory
        self.fanOutChunkSize = max(1, fanOutChunkSize)
        self.maxExplicitRecipients = maxExplicitRecipients
        self.maxDataBytes = maxDataBytes
        self.deliveryMaxAttempts = max(1, deliveryMaxAttempts)
        self.idempotencyWindow = idempotencyWindow
        self.maxWindow = maxWindow
        self.linkSecret = linkSecret
        self.quietHoursExemptChannels = quietHoursExemptChannels
        self.webhookTimeout = webhookTimeout
    }
}
