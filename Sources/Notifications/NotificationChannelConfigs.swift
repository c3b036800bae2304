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

/// The ordered providers of a channel (`email`: SMTP servers; `push`: APNs keys, FCM projects, VAPID keys).
///
/// Deliveries try the providers in order and move to the next when one fails or keeps failing
/// (`ProviderFailover`). Secrets are stored with the configuration and never returned by the API.
public struct ChannelProviders: Sendable, Equatable {
    public struct Provider: Sendable, Equatable {
        /// Unique within the channel; names the provider in delivery reasons and health.
        public var name: String
        /// `smtp`, or a `PushPlatform` raw value.
        public var type: String
        public var config: [String: JSONValue]

        public init(name: String, type: String, config: [String: JSONValue]) {
            self.name = name
            self.type = type
            self.config = config
        }
    }

    public var enabled: Bool
    /// Channel-wide settings (email: `from`, `reply_to`).
    public var settings: [String: JSONValue]
    public var providers: [Provider]
    public var updatedAt: Date

    public init(enabled: Bool, settings: [String: JSONValue], providers: [Provider], updatedAt: Date) {
        self.enabled = enabled
        self.settings = settings
        self.providers = providers
        self.updatedAt = updatedAt
    }

    /// The configuration as the admin API shows it: every secret replaced by `"***"`.
    public var redacted: JSONValue {
        .object([
            "enabled": .bool(enabled),
            "settings": .object(settings),
            "providers": .array(providers.map { provider in
                .object(["name": .string(provider.name), "type": .string(provider.type),
                         "config": Self.redact(.object(provider.config))])
            }),
            "updated_at": .string(Timestamp.format(updatedAt)),
        ])
    }

    static let secretKeys: Set<String> = ["password", "private_key", "vapid_private_key", "secret"]

    static func redact(_ value: JSONValue) -> JSONValue {
        guard case .object(let object) = value else { return value }
        return .object(Dictionary(uniqueKeysWithValues: object.map { key, value in
            (key, secretKeys.contains(key) ? .string("***") : redact(value))
        }))
    }

    var json: JSONValue {
        .object([
            "enabled": .bool(enabled),
            "settings": .object(settings),
            "providers": .array(providers.map { .object(["name": .string($0.name), "type": .string($0.type), "config": .object($0.config)]) }),
        ])
    }

    init?(json: JSONValue, updatedAt: Date) {
        guard let object = json.objectValue, case .array(let list)? = object["providers"] else { return nil }
        var providers: [Provider] = []
        for entry in list {
            guard let name = entry["name"]?.stringValue, let type = entry["type"]?.stringValue else { return nil }
            providers.append(Provider(name: name, type: type, config: entry["config"]?.objectValue ?? [:]))
        }
        self.init(enabled: object["enabled"] == .bool(true), settings: object["settings"]?.objectValue ?? [:], providers: providers,
                  updatedAt: updatedAt)
    }
}

extension NotificationChannelConfigs {
    /// The providers of `channel` (`email` or `push`), or nil when it was never configured.
    public func providers(_ channel: NotificationChannelKind) async throws -> ChannelProviders? {
        guard let row = try await database.sql.raw("""
            SELECT * FROM notifications_channel_configs WHERE channel = \(bind: channel.rawValue)
            """).first() else { return nil }
        return ChannelProviders(json: try row.decodeJSON("config"), updatedAt: try row.decodeDate("updated_at"))
    }

    /// Replaces the providers of `channel`. `validate` checks each provider (building it is the check);
    /// nothing is stored when one is invalid.
    public func setProviders(_ channel: NotificationChannelKind, enabled: Bool, settings: [String: JSONValue],
                             providers: [ChannelProviders.Provider],
                             validate: (ChannelProviders.Provider) throws -> Void) async throws -> ChannelProviders {
        guard channel == .email || channel == .push else {
            throw ParleyError.invalidParameter("channel", "only the email and push channels have providers")
        }
        guard !providers.isEmpty, providers.count <= 10 else { throw ParleyError.invalidField("providers", "1 to 10 providers") }
        var names: Set<String> = []
        for (index, provider) in providers.enumerated() {
            guard NotificationService.isValidKey(provider.name), names.insert(provider.name).inserted else {
                throw ParleyError.invalidField("providers[\(index)].name", "unique; \(NotificationService.keyPattern)")
            }
            try validate(provider)
        }
        let config = ChannelProviders(enabled: enabled, settings: settings, providers: providers, updatedAt: clock.now())
        let text = try config.json.jsonText()
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO notifications_channel_configs (channel, config, updated_at)
                VALUES (\(bind: channel.rawValue), \(bind: text), \(bind: config.updatedAt.unixMilliseconds))
                ON CONFLICT (channel) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at
                """).run()
        }
        return config
    }

    public func deleteProviders(_ channel: NotificationChannelKind) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM notifications_channel_configs WHERE channel = \(bind: channel.rawValue)").run()
        }
    }
}
