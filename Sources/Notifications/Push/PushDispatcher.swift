import Foundation
import ParleyCore
import SQLKit
import Synchronization

/// Sends one push to every device of a user through the configured providers of each device's platform.
///
/// Providers come from the `push` channel's configuration; their senders are built once per configuration
/// version and reused, so provider tokens (APNs JWTs, FCM OAuth tokens) are cached across pushes. Devices the
/// service calls invalid are forgotten at once.
public final class PushDispatcher: Sendable {
    /// Turns one stored provider configuration into a sender (validating it).
    public typealias SenderBuilder = @Sendable (ChannelProviders.Provider) throws -> any PushSender

    /// What happened to one push for one user.
    public struct Report: Sendable, Equatable {
        public var accepted = 0
        public var forgotten = 0
        public var transientFailures: [String] = []
        public var permanentFailures: [String] = []
    }

    struct Built {
        var version: Date
        var enabled: Bool
        var senders: [PushPlatform: [(name: String, provider: any PushSender)]]
    }

    let configs: NotificationChannelConfigs
    let devices: PushDeviceRegistry
    let failover: ProviderFailover
    let build: SenderBuilder
    private let cache = Mutex<Built?>(nil)

    public init(configs: NotificationChannelConfigs, devices: PushDeviceRegistry, failover: ProviderFailover, build: @escaping SenderBuilder) {
        self.configs = configs
        self.devices = devices
        self.failover = failover
        self.build = build
    }

    /// Whether pushes can go anywhere: the channel is configured, enabled and has a provider.
    public func isAvailable() async throws -> Bool {
        let senders = try await current()
        return senders.enabled && !senders.senders.isEmpty
    }

    /// Pushes `content` to every device of `user`. Never throws for a device's failure: the report says
    /// what happened, and the caller decides whether to retry.
    public func push(_ content: PushContent, to user: UserID) async throws -> Report {
        var report = Report()
        let built = try await current()
        guard built.enabled else {
            report.permanentFailures.append("the push channel is disabled")
            return report
        }
        let targets = try await devices.devices(of: user)
        var used: [PushDevice] = []
        for device in targets {
            guard let providers = built.senders[device.platform], !providers.isEmpty else {
                report.permanentFailures.append("\(device.platform.rawValue): no provider configured")
                continue
            }
            do {
                let result = try await failover.run(providers) { sender in try await sender.send(content, to: device) }
                switch result {
                case .accepted:
                    report.accepted += 1
                    used.append(device)
                case .deviceGone(let reason):
                    try await devices.forget(device)
                    report.forgotten += 1
                    report.permanentFailures.append("\(device.platform.rawValue) device \(device.id) is gone: \(reason)")
                }
            } catch let failure as ChannelFailure where failure.permanent {
                report.permanentFailures.append(failure.reason)
            } catch {
                report.transientFailures.append((error as? ChannelFailure)?.reason ?? "\(error)")
            }
        }
        try await devices.markUsed(used)
        return report
    }

    /// The senders of the current configuration, rebuilt only when it changed.
    func current() async throws -> Built {
        guard let config = try await configs.providers(.push) else {
            return Built(version: .distantPast, enabled: false, senders: [:])
        }
        if let cached = cache.withLock({ $0 }), cached.version == config.updatedAt { return cached }
        var senders: [PushPlatform: [(name: String, provider: any PushSender)]] = [:]
        for provider in config.providers {
            // A provider that no longer builds (it was valid when stored) is left out rather than failing every push.
            guard let sender = try? build(provider) else { continue }
            senders[sender.platform, default: []].append((provider.name, sender))
        }
        let built = Built(version: config.updatedAt, enabled: config.enabled, senders: senders)
        cache.withLock { $0 = built }
        return built
    }
}

/// The `push` channel: each (notification, user) goes to every device the user registered.
///
/// The outcome is `sent` when at least one device's service accepted it; when none did, a transient
/// failure anywhere retries the delivery, and otherwise it fails with every device's reason.
public struct PushNotificationChannel: NotificationChannel {
    public let kind = NotificationChannelKind.push
    let dispatcher: PushDispatcher
    let devices: PushDeviceRegistry
    let badges: (@Sendable (UserID) async throws -> Int)?

    /// `badges` gives the app icon count for a user (e.g. unread notifications); nil leaves the badge alone.
    public init(dispatcher: PushDispatcher, devices: PushDeviceRegistry, badges: (@Sendable (UserID) async throws -> Int)? = nil) {
        self.dispatcher = dispatcher
        self.devices = devices
        self.badges = badges
    }

    public func isAvailable() async throws -> Bool {
        try await dispatcher.isAvailable()
    }

    public func reachableUsers(among users: [UserID], on sql: any SQLDatabase) async throws -> Set<UserID>? {
        try await devices.usersWithDevices(among: users, on: sql)
    }

    public func deliver(_ message: ChannelMessage) async throws -> ChannelOutcome {
        let content = PushContent(
            notificationID: message.notificationID, title: message.content["title"] ?? "", body: message.content["body"] ?? "",
            category: message.category, data: message.data.merging(["notification_id": .string(message.notificationID)]) { first, _ in first },
            clickURL: message.clickURL, badge: try await badges?(message.user),
            collapseID: message.data["collapse_id"]?.stringValue, urgent: message.priority == .high || message.priority == .critical
        )
        let report = try await dispatcher.push(content, to: message.user)
        if report.accepted > 0 { return .sent }
        if !report.transientFailures.isEmpty {
            throw ChannelFailure((report.transientFailures + report.permanentFailures).joined(separator: "; "))
        }
        if report.permanentFailures.isEmpty { throw ChannelFailure("the user has no push device", permanent: true) }
        throw ChannelFailure(report.permanentFailures.joined(separator: "; "), permanent: true)
    }
}

extension NotificationChannelConfigs {
    /// The VAPID public key browsers subscribe with (`applicationServerKey`): the first Web Push provider's.
    public func webPushPublicKey() async throws -> String? {
        guard let config = try await providers(.push), config.enabled else { return nil }
        return config.providers.first { $0.type == PushPlatform.webpush.rawValue }?.config["vapid_public_key"]?.stringValue
    }
}
