import Events
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Tracked links: `/v1/notifications/{id}/click?u=<user>&c=<channel>&sig=<hmac>`.
///
/// `sig` is the hex HMAC-SHA256, under `NotificationSettings.linkSecret`, of `0.<notification id>.<user id>.<channel>`
/// (WebhookSignature's construction with timestamp 0), so only links Parley issued are counted and redirect.
extension NotificationService {
    public static func clickSignature(notificationID: String, user: UserID, channel: NotificationChannelKind, secret: String) -> String {
        WebhookSignature.hmacHex(body: Data("\(notificationID).\(user.rawValue).\(channel.rawValue)".utf8), secret: secret, timestamp: 0)
    }

    /// The path of a user's tracked link for a notification (relative to Parley's public URL).
    public func clickLink(notificationID: String, user: UserID, channel: NotificationChannelKind = .inApp) -> String {
        let signature = Self.clickSignature(notificationID: notificationID, user: user, channel: channel, secret: settings.linkSecret)
        let allowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?#"))
        let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        return "/v1/notifications/\(encode(notificationID))/click?u=\(encode(user.rawValue))&c=\(channel.rawValue)&sig=\(signature)"
    }

    /// Verifies a tracked link, records the click (`clicked`; in the inbox also read and seen) and returns
    /// where to redirect. Throws `notifications.invalid_signature`, `notifications.notification_not_found`
    /// or `notifications.no_action_url`.
    public func click(notificationID: String, user: UserID, channel: NotificationChannelKind, signature: String) async throws -> String {
        let expected = Self.clickSignature(notificationID: notificationID, user: user, channel: channel, secret: settings.linkSecret)
        guard constantTimeEquals(signature.lowercased(), expected) else { throw ParleyError.invalidClickSignature() }
        guard let (_, rendered) = try await notification(notificationID) else { throw ParleyError.notificationNotFound(notificationID) }
        let locale = try await settings(of: [user], on: database.sql)[user]?.locale
        let contentChannel: NotificationChannelKind = content(rendered, channel: channel, locale: locale)?.fields["action_url"] != nil ? channel : .inApp
        guard let target = content(rendered, channel: contentChannel, locale: locale)?.fields["action_url"] else {
            throw ParleyError.noActionURL(notificationID)
        }
        let now = clock.now()
        try await database.transaction { sql in
            if channel == .inApp {
                let rows = try await sql.raw("""
                    UPDATE notifications_inbox SET clicked_at = COALESCE(clicked_at, \(bind: now.unixMilliseconds)),
                        read_at = COALESCE(read_at, \(bind: now.unixMilliseconds)), seen_at = COALESCE(seen_at, \(bind: now.unixMilliseconds))
                    WHERE user_id = \(bind: user.rawValue) AND notification_id = \(bind: notificationID)
                    RETURNING notification_id, seen_at, read_at, clicked_at
                    """).all()
                if !rows.isEmpty {
                    try await inboxChanged(user, now: now, on: sql)
                    try await recordFunnel(rows, user: user, now: now, on: sql)
                }
            } else {
                try await sql.raw("""
                    UPDATE notifications_deliveries SET state = 'clicked', updated_at = \(bind: now.unixMilliseconds)
                    WHERE notification_id = \(bind: notificationID) AND user_id = \(bind: user.rawValue) AND channel = \(bind: channel.rawValue)
                    """).run()
            }
        }
        return target
    }
}
