import Foundation
import ParleyCore
import SQLKit

/// One SMTP provider of the `email` channel, read from its stored configuration:
/// `{"host", "port"?, "security": "starttls" | "starttls_optional" | "tls" | "none", "username"?, "password"?,
/// "allow_insecure_auth"?, "helo_name"?, "trusted_ca_pem"?}`.
public enum SMTPProviderConfiguration {
    public static func server(_ config: [String: JSONValue]) throws(ParleyError) -> SMTPServer {
        guard let host = config["host"]?.stringValue, !host.isEmpty, host.utf8.count <= 255,
              host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ParleyError.invalidProviderConfig("host", "a host name or address")
        }
        let security: SMTPServer.Security
        switch config["security"]?.stringValue ?? "starttls" {
        case "starttls": security = .starttls(required: true)
        case "starttls_optional": security = .starttls(required: false)
        case "tls": security = .tls
        case "none": security = .none
        default: throw ParleyError.invalidProviderConfig("security", "starttls, starttls_optional, tls or none")
        }
        var port: Int?
        if let value = config["port"] {
            guard case .int(let number) = value, (1...65535).contains(number) else {
                throw ParleyError.invalidProviderConfig("port", "a port number")
            }
            port = number
        }
        var credentials: SMTPServer.Credentials?
        switch (config["username"]?.stringValue, config["password"]?.stringValue) {
        case (let username?, let password?): credentials = .init(username: username, password: password)
        case (nil, nil): credentials = nil
        default: throw ParleyError.invalidProviderConfig("username", "username and password go together")
        }
        return SMTPServer(host: host, port: port, security: security, credentials: credentials,
                          allowInsecureAuth: config["allow_insecure_auth"] == .bool(true), heloName: config["helo_name"]?.stringValue,
                          trustedRootCertificatesPEM: config["trusted_ca_pem"]?.stringValue)
    }
}

/// The sender identity of the `email` channel, from its settings: `{"from", "from_name"?, "reply_to"?,
/// "message_id_domain"?, "unsubscribe_url"?}`.
struct EmailSenderSettings {
    var from: MIMEMessage.Mailbox
    var replyTo: MIMEMessage.Mailbox?
    var domain: String
    var unsubscribeURL: String?

    init(_ settings: [String: JSONValue]) throws(ParleyError) {
        guard let address = settings["from"]?.stringValue, MailEnvelope.isValidAddress(address) else {
            throw ParleyError.invalidProviderConfig("settings.from", "the sender address, like no-reply@example.com")
        }
        from = MIMEMessage.Mailbox(address, displayName: settings["from_name"]?.stringValue)
        if let reply = settings["reply_to"]?.stringValue {
            guard MailEnvelope.isValidAddress(reply) else { throw ParleyError.invalidProviderConfig("settings.reply_to", "an address") }
            replyTo = MIMEMessage.Mailbox(reply)
        }
        domain = settings["message_id_domain"]?.stringValue ?? String(address[address.index(after: address.lastIndex(of: "@")!)...])
        unsubscribeURL = settings["unsubscribe_url"]?.stringValue
    }
}

/// The `email` channel: renders the template's `subject`, `text` and `html` into one MIME message and hands
/// it to the first SMTP provider that takes it (`ProviderFailover`).
///
/// A `5xx` from the server (an unknown mailbox, a refused sender) fails the delivery for good; connection
/// failures, timeouts and `4xx` replies move to the next provider and, when all fail, retry later.
public struct EmailNotificationChannel: NotificationChannel {
    public let kind = NotificationChannelKind.email
    let configs: NotificationChannelConfigs
    let addresses: PushDeviceRegistry
    let mailer: any OutboundMailer
    let failover: ProviderFailover
    let clock: any WallClock

    public init(configs: NotificationChannelConfigs, addresses: PushDeviceRegistry, mailer: any OutboundMailer, failover: ProviderFailover,
                clock: any WallClock) {
        self.configs = configs
        self.addresses = addresses
        self.mailer = mailer
        self.failover = failover
        self.clock = clock
    }

    public func isAvailable() async throws -> Bool {
        guard let config = try await configs.providers(.email) else { return false }
        return config.enabled && !config.providers.isEmpty
    }

    public func reachableUsers(among users: [UserID], on sql: any SQLDatabase) async throws -> Set<UserID>? {
        try await addresses.usersWithEmail(among: users, on: sql)
    }

    public func deliver(_ message: ChannelMessage) async throws -> ChannelOutcome {
        guard let config = try await configs.providers(.email), config.enabled else {
            throw ChannelFailure("the email channel is not configured or is disabled", permanent: true)
        }
        guard let address = try await addresses.email(of: message.user) else {
            throw ChannelFailure("the user has no email address", permanent: true)
        }
        let sender: EmailSenderSettings
        do {
            sender = try EmailSenderSettings(config.settings)
        } catch {
            throw ChannelFailure(error.message, permanent: true)
        }
        var html = message.content["html"]
        var text = message.content["text"]
        // The tracked link goes where the template put the action URL, so clicks are counted.
        if let clickURL = message.clickURL, let actionURL = message.content["action_url"] {
            html = html?.replacingOccurrences(of: actionURL, with: clickURL)
            text = text?.replacingOccurrences(of: actionURL, with: clickURL)
        }
        let mime = MIMEMessage(
            from: sender.from, to: [MIMEMessage.Mailbox(address)], subject: message.content["subject"] ?? "", date: clock.now(),
            messageID: MIMEMessage.messageID(notificationID: message.notificationID, user: message.user, domain: sender.domain),
            text: text, html: html, replyTo: sender.replyTo, listUnsubscribe: sender.unsubscribeURL,
            extraHeaders: [MIMEMessage.Header("X-Parley-Notification-Id", message.notificationID),
                           MIMEMessage.Header("X-Parley-Category", message.category)]
        )
        let envelope: MailEnvelope
        do {
            envelope = try mime.envelope()
        } catch {
            throw ChannelFailure("the message cannot be built: \(error)", permanent: true)
        }
        var servers: [(name: String, provider: SMTPServer)] = []
        for provider in config.providers {
            guard let server = try? SMTPProviderConfiguration.server(provider.config) else { continue }
            servers.append((provider.name, server))
        }
        try await failover.run(servers) { server in
            do {
                try await mailer.send(envelope, via: server)
            } catch let error as MailDeliveryError {
                throw ChannelFailure(error.description, permanent: error.permanent && error.stage != .authentication)
            }
        }
        return .sent
    }
}

/// Checks a provider before it is stored: building it from its configuration is the check.
public enum ChannelProviderValidation {
    public static func validate(_ provider: ChannelProviders.Provider, channel: NotificationChannelKind,
                                settings: [String: JSONValue]) throws {
        switch channel {
        case .email:
            guard provider.type == "smtp" else { throw ParleyError.invalidProviderConfig("type", "smtp") }
            _ = try SMTPProviderConfiguration.server(provider.config)
            _ = try EmailSenderSettings(settings)
        case .push:
            guard let platform = PushPlatform(rawValue: provider.type) else {
                throw ParleyError.invalidProviderConfig("type", PushPlatform.allCases.map(\.rawValue).joined(separator: ", "))
            }
            try PushSenderFactory.validate(type: platform, config: .object(provider.config))
        default:
            throw ParleyError.invalidParameter("channel", "only email and push have providers")
        }
    }
}
