import Foundation
import ParleyCore

/// Builds a `PushSender` from a configuration stored as JSON, so the admin API and the push channel agree on
/// one format per platform (see `WebPushConfiguration`, `APNsConfiguration`, `FCMConfiguration`):
///
/// - `webpush`: `{"vapid_public_key", "vapid_private_key", "subject"}`
/// - `apns`: `{"team_id", "key_id", "private_key", "topic", "production_url"?, "sandbox_url"?}`
/// - `fcm`: `{"service_account": {...Google's key file...}, "base_url"?}`
public enum PushSenderFactory {
    /// Validates `config` for `type` and builds its sender.
    /// - Throws: `ParleyError.invalidField` naming the first missing, unknown or malformed field (a PEM that
    ///   does not parse, a key of the wrong length or curve, a non-https URL).
    public static func make(
        type: PushPlatform, config: JSONValue, http: any OutboundHTTP, clock: any WallClock = SystemWallClock(),
        timeout: Duration = .seconds(10)
    ) throws(ParleyError) -> any PushSender {
        switch type {
        case .webpush:
            try WebPushSender(configuration: WebPushConfiguration(json: config), http: http, clock: clock, timeout: timeout)
        case .apns:
            try APNsSender(configuration: APNsConfiguration(json: config), http: http, clock: clock, timeout: timeout)
        case .fcm:
            try FCMSender(configuration: FCMConfiguration(json: config), http: http, clock: clock, timeout: timeout)
        }
    }

    /// Checks `config` for `type` without building a sender (for the admin API before it stores it).
    /// - Throws: `ParleyError.invalidField` as `make` does.
    public static func validate(type: PushPlatform, config: JSONValue) throws(ParleyError) {
        switch type {
        case .webpush: _ = try WebPushConfiguration(json: config)
        case .apns: _ = try APNsConfiguration(json: config)
        case .fcm: _ = try FCMConfiguration(json: config)
        }
    }
}
