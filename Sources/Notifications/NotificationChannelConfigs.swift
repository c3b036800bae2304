import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The per-app configuration of external channels, kept in the database so every node sees the same.
public struct NotificationChannelConfigs: Sendable {
    /// Where the `webhook` channel posts, and the secret it signs with.
    public struct Webhook: Sendable, Equatable {
        public var url: String
        public var secret: String
        public var enabled: Bool
        public var updatedAt: Date
    }

    let database: Database
    let clock: any WallClock

    public init(database: Database, clock: any WallClock) {
        self.database = database
        self.clock = clock
    }

    public func webhook() async throws -> Webhook? {
        guard let row = try await database.sql.raw("SELECT * FROM notifications_channel_configs WHERE channel = 'webhook'").first() else {
            return nil
        }
        let config = try row.decodeJSON("config")
        guard let url = config["url"]?.stringValue, let secret = config["secret"]?.stringValue else { return nil }
        return Webhook(url: url, secret: secret, enabled: config["enabled"] == .bool(true), updatedAt: try row.decodeDate("updated_at"))
    }

    /// Sets the webhook channel. Without a secret, the current one is kept, or one is generated.
    public func setWebhook(url: String, secret: String?, enabled: Bool) async throws -> Webhook {
        guard url.utf8.count <= 2048, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
              parsed.host != nil else { throw ParleyError.invalidField("url", "an absolute http(s) URL") }
        if let secret, secret.utf8.count < 16 || secret.utf8.count > 256 { throw ParleyError.invalidField("secret", "16 to 256 bytes") }
        let existing = try await webhook()
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let config = Webhook(url: url, secret: secret ?? existing?.secret ?? "whsec_" + Data(bytes).base64URLEncodedString(),
                             enabled: enabled, updatedAt: clock.now())
        let text = try JSONValue.object(["url": .string(config.url), "secret": .string(config.secret), "enabled": .bool(enabled)]).jsonText()
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO notifications_channel_configs (channel, config, updated_at) VALUES ('webhook', \(bind: text),
                    \(bind: config.updatedAt.unixMilliseconds))
                ON CONFLICT (channel) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at
                """).run()
        }
        return config
    }

    public func deleteWebhook() async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM notifications_channel_configs WHERE channel = 'webhook'").run()
        }
    }
}
