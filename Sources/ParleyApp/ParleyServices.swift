import Analytics
import Crypto
import Events
import Foundation
import Identity
import Logging
import Messaging
import Moderation
import Notifications
import ParleyHTTP
import ParleyOutbound
import ParleyRealtime
import ServiceLifecycle
import Synchronization
import ParleyCore
import ParleyStorage

/// The composition root's object graph: one instance of every store and service, wired together.
///
/// This is the only place that chooses implementations; everything else receives protocols.
public struct ParleyServices: Sendable {
    public let database: Database
    public let clock: any WallClock
    public let ids: any IDGenerator
    public let events: EventLog
    /// Deletes old events, finished jobs and webhook deliveries.
    public let retention: EventsRetention
    public let users: any UserStore
    public let apiKeys: APIKeyService
    public let tokens: TokenService
    public let authenticator: Authenticator
    public let messaging: MessagingService
    public let moderation: ModerationService
    public let rateLimiter: GCRARateLimiter
    /// Nil when flood detection is off.
    public let floodDetector: FloodDetector?
    public let rateLimitOverrides: RateLimitOverrideStore
    public let sensitiveWords: SensitiveWords
    public let jobs: JobQueue
    public let webhooks: WebhookService
    public let notifications: NotificationService
    public let analytics: AnalyticsService
    public let notificationChannels: NotificationChannelConfigs
    /// Users' push devices and email addresses.
    public let pushDevices: PushDeviceRegistry
    public let pushDispatcher: PushDispatcher
    /// Pushes for chat messages to members who are away.
    public let autoPush: AutoPush
    /// Server-sent-event subscribers of this node (GET /v1/notifications/stream).
    public let notificationStreams = NotificationStreamBroadcaster()
    public let http: any OutboundHTTP

    /// Every context's migrations, in dependency order.
    public static let migrations: [MigrationGroup] = [
        EventLog.migrations,
        AnalyticsContext.migrations,
        SQLUserStore.migrations,
        ModerationService.migrations,
        MessagingService.migrations,
        JobQueue.migrations,
        WebhookService.migrations,
        NotificationService.migrations,
        PresenceBeacon.migrations,
    ]

    public init(database: Database, secret: SymmetricKey, platformKeys: [JWTVerificationKey] = [], platformIssuer: String? = nil,
                clock: any WallClock = SystemWallClock(), ids: (any IDGenerator)? = nil,
                messagingSettings: MessagingSettings = MessagingSettings(), http: any OutboundHTTP = AsyncHTTPOutbound(),
                beforeSendHook: BeforeSendHookSettings? = nil, backoff: Backoff = Backoff(), webhookSettings: WebhookSettings = WebhookSettings(),
                floodSettings: FloodSettings? = FloodSettings(), filterDictionaryFile: String? = nil,
                analyticsSettings: AnalyticsSettings = AnalyticsSettings(),
                mailer: any OutboundMailer = NIOSMTPMailer(), webPushPolicy: WebPushEndpointPolicy = WebPushEndpointPolicy(),
                autoPushSettings: AutoPushSettings = AutoPushSettings(), rateLimitPolicy: RateLimitPolicy = .defaults,
                retentionSettings: RetentionSettings = RetentionSettings(), logger: Logger = Logger(label: "parley")) {
        let ids = ids ?? SortableIDGenerator(clock: clock)
        self.database = database
        self.clock = clock
        self.ids = ids
        events = EventLog(database: database, ids: ids)
        retention = EventsRetention(log: events, settings: retentionSettings, clock: clock)
        analytics = AnalyticsService(database: database, events: events, clock: clock, settings: analyticsSettings)
        users = SQLUserStore(database: database, outbox: events)
        apiKeys = APIKeyService(database: database, ids: ids, clock: clock)
        tokens = TokenService(secret: secret, platformKeys: platformKeys, platformIssuer: platformIssuer, clock: clock, ids: ids)
        self.http = http
        // Messaging and Moderation need each other (held messages are published, removed ones recalled), so
        // Moderation gets an adapter that is bound to Messaging once both exist.
        let messagingAdapter = MessagingModerationAdapter()
        moderation = ModerationService(database: database, ids: ids, clock: clock, publishers: [messagingAdapter],
                                       remover: messagingAdapter, resolver: messagingAdapter, outbox: events, logger: logger)
        // Suspended and banned users' tokens stop working at once: every user request asks Moderation.
        authenticator = Authenticator(tokens: tokens, apiKeys: apiKeys, users: users, gate: ModerationAccessGate(moderation: moderation))
        rateLimitOverrides = RateLimitOverrideStore(database: database, audit: moderation.audit)
        // On PostgreSQL (several nodes) the limits count the whole cluster's requests.
        rateLimiter = GCRARateLimiter(policy: rateLimitPolicy, clock: clock, overrides: rateLimitOverrides,
                                      sharedIn: database.engine == .postgres ? database : nil, logger: logger)
        // The pipeline of DESIGN §7: Parley's own risk control first, then the platform's before-send hook.
        // On PostgreSQL (several nodes) the flood windows hold the whole cluster's messages too.
        let flood = floodSettings.map {
            FloodDetector(settings: $0, clock: clock, sharedIn: database.engine == .postgres ? database : nil, logger: logger)
        }
        floodDetector = flood
        sensitiveWords = SensitiveWords(database: database, clock: clock, audit: moderation.audit, dictionaryFile: filterDictionaryFile)
        let moderationPolicy = ModerationPolicy(service: moderation, screens: [SensitiveWordScreen(words: sensitiveWords)], flood: flood)
        var policies: [any ContentPolicy] = [moderationPolicy]
        if let beforeSendHook { policies.append(BeforeSendHook(settings: beforeSendHook, http: http, logger: logger)) }
        messaging = MessagingService(database: database, outbox: events, users: IdentityUserDirectory(users: users), clock: clock,
                                     ids: ids, settings: messagingSettings, policy: ContentPolicyChain(policies),
                                     reviewReads: moderationPolicy, blocks: moderation.blocks)
        messagingAdapter.bind(messaging)
        jobs = JobQueue(database: database, ids: ids, clock: clock, backoff: backoff)
        webhooks = WebhookService(database: database, jobs: jobs, ids: ids, clock: clock, settings: webhookSettings)
        notificationChannels = NotificationChannelConfigs(database: database, clock: clock)
        // Tracked links are signed with a key derived from Parley's secret, never the secret itself.
        let linkKey = HMAC<SHA256>.authenticationCode(for: Data("parley-notification-links".utf8), using: secret)
        let devices = PushDeviceRegistry(database: database, clock: clock, ids: ids, webPushPolicy: webPushPolicy)
        pushDevices = devices
        let dispatcher = PushDispatcher(configs: notificationChannels, devices: devices, failover: ProviderFailover(clock: clock),
                                        build: { provider in
            guard let platform = PushPlatform(rawValue: provider.type) else {
                throw ParleyError.invalidProviderConfig("type", "apns, fcm or webpush")
            }
            return try PushSenderFactory.make(type: platform, config: .object(provider.config), http: http, clock: clock)
        })
        pushDispatcher = dispatcher
        let notifications = NotificationService(
            database: database, outbox: events, jobs: jobs, users: IdentityNotificationDirectory(users: users), clock: clock, ids: ids,
            settings: NotificationSettings(linkSecret: Data(linkKey).base64URLEncodedString()),
            channels: [
                WebhookNotificationChannel(configs: notificationChannels, http: http, clock: clock),
                EmailNotificationChannel(configs: notificationChannels, addresses: devices, mailer: mailer,
                                         failover: ProviderFailover(clock: clock), clock: clock),
                PushNotificationChannel(dispatcher: dispatcher, devices: devices),
            ]
        )
        self.notifications = notifications
        autoPush = AutoPush(notifications: notifications, source: MessagingPushSource(messaging: messaging, users: users),
                            presence: SQLPresenceDirectory(database: database, clock: clock), dispatcher: dispatcher, devices: devices,
                            settings: autoPushSettings)
    }

    /// Records that a user connected (an event, so analytics counts them as active). A failure is logged,
    /// never passed to the connection: the connection matters more than the statistic.
    public func recordConnection(user: UserID, device: String?, logger: Logger) async {
        do {
            try await database.transaction { sql in
                try await events.append(NewEvent(
                    type: "user.connected", actor: "user:\(user.rawValue)", subject: "user:\(user.rawValue)",
                    payload: ["user_id": .string(user.rawValue), "device": device.map { .string($0) } ?? .null], occurredAt: clock.now()
                ), on: sql)
            }
        } catch {
            logger.warning("could not record a connection", metadata: ["user": .string(user.rawValue), "error": "\(error)"])
        }
    }

    /// Every consumer of the event log, each with its own durable cursor.
    public var eventConsumers: [any EventConsumer] {
        [WebhookFanout(webhooks: webhooks), analytics.consumer(), autoPush.consumer, SanctionNotices(jobs: jobs)]
    }

    /// Every kind of job and what runs it.
    public var jobHandlers: [any JobHandler] {
        [WebhookDeliveryHandler(webhooks: webhooks, http: http), autoPush.jobHandler, SanctionNoticeHandler(notifications: notifications)]
            + notifications.jobHandlers
    }

    /// The event consumers and the job worker: what `parley serve` and `parley worker` run besides HTTP.
    public func backgroundServices(workerID: String, concurrency: Int = 8, logger: Logger) -> [any Service] {
        [
            EventPlacer(log: events, database: database, logger: logger),
            ConsumerRunner(log: events, consumers: eventConsumers, database: database, clock: clock, logger: logger),
            JobWorker(queue: jobs, handlers: jobHandlers, database: database, workerID: workerID, concurrency: concurrency, logger: logger),
            SensitiveWordsReloader(words: sensitiveWords, logger: logger),
            RetentionRunner(messaging: messaging, events: retention, rateLimiter: rateLimiter, flood: floodDetector, logger: logger),
            NotificationHousekeeper(notifications: notifications, logger: logger),
        ]
    }

    /// Applies migrations and loads what the services keep in memory (the sensitive-word filters).
    public func migrate() async throws -> [String] {
        let applied = try await Migrator(database: database).migrate(Self.migrations)
        try await sensitiveWords.reload()
        return applied
    }
}

extension ParleyConfiguration {
    /// Analytics reports in UTC and, when `PARLEY_ANALYTICS_TIME_ZONE` is set, in that zone too.
    public var analyticsSettings: AnalyticsSettings {
        AnalyticsSettings(reportingZone: analyticsTimeZone.flatMap { ReportingZone(identifier: $0) } ?? .utc)
    }

    /// The before-send hook, when `PARLEY_BEFORE_SEND_URL` is set.
    public var beforeSendHook: BeforeSendHookSettings? {
        guard let beforeSendURL else { return nil }
        return BeforeSendHookSettings(url: beforeSendURL, timeout: .milliseconds(beforeSendTimeoutMilliseconds),
                                      failOpen: beforeSendFailOpen, secret: beforeSendSecret)
    }

    /// The platform's token verification keys, from the configured secret and public key file.
    public func platformKeys() throws -> [JWTVerificationKey] {
        var keys: [JWTVerificationKey] = []
        if let platformJWTSecret {
            guard platformJWTSecret.utf8.count >= 32 else {
                throw ConfigurationError("PARLEY_PLATFORM_JWT_SECRET must be at least 32 bytes")
            }
            keys.append(.hs256(SymmetricKey(data: Data(platformJWTSecret.utf8))))
        }
        if let platformJWTPublicKeyFile {
            guard let pem = try? String(contentsOfFile: platformJWTPublicKeyFile, encoding: .utf8) else {
                throw ConfigurationError("cannot read \(platformJWTPublicKeyFile)")
            }
            do {
                keys.append(try JWTVerificationKey.publicKey(pem: pem))
            } catch {
                throw ConfigurationError("\(platformJWTPublicKeyFile) is not an EC P-256 or RSA public key in PEM form")
            }
        }
        return keys
    }
}

/// Notifications' view of Identity: who is active, in id order for broadcasts.
struct IdentityNotificationDirectory: NotificationUserDirectory {
    let users: any UserStore

    func activeUsers(after: UserID?, limit: Int) async throws -> [UserID] {
        try await users.activeUserIDs(after: after, limit: limit)
    }

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await users.activeUsers(among: ids)
    }
}

/// Identity's gate to Moderation: a suspended or banned user is refused on every request (a mute only stops
/// posting, which the content policy enforces).
struct ModerationAccessGate: UserAccessGate {
    let moderation: ModerationService

    func refusal(for user: UserID) async throws -> ParleyError? {
        guard let sanction = try await moderation.activeSanction(of: user), sanction.kind != .mute else { return nil }
        return ParleyError.sanctioned(sanction)
    }
}

/// Messaging's view of Identity: which users exist and are active.
struct IdentityUserDirectory: UserDirectory {
    let users: any UserStore

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await users.activeUsers(among: ids)
    }
}

/// Moderation's hands in Messaging: publishing approved held messages, recalling removed ones, and
/// looking up reported messages. Bound after both services exist.
final class MessagingModerationAdapter: HeldContentPublisher, ContentRemover, ReportedContentResolver {
    let kinds: Set<String> = ["message"]
    private let messaging = Mutex<MessagingService?>(nil)

    func bind(_ service: MessagingService) {
        messaging.withLock { $0 = service }
    }

    private func service() throws -> MessagingService {
        guard let service = messaging.withLock({ $0 }) else {
            throw ParleyError(.unavailable, code: "moderation.not_wired", message: "Messaging is not available to moderation.")
        }
        return service
    }

    func publish(_ submission: ContentSubmission) async throws -> String {
        try await service().publishHeld(submission).messageID
    }

    func remove(_ subject: ModerationSubject, actor: String) async throws {
        guard let conversation = subject.conversationID else { throw ParleyError.missingField("conversation_id") }
        do {
            _ = try await service().recall(conversation, messageID: subject.id, by: .platform(label: actor))
        } catch let error as ParleyError where error.code == "messaging.message_recalled" {
            // Already gone: removing twice is fine.
        }
    }

    func resolve(_ subject: ModerationSubject, reporter: UserID) async throws -> ReportedContent? {
        guard subject.kind == .message, let item = try await service().visibleMessage(subject.id, to: reporter) else { return nil }
        return ReportedContent(author: UserID.isValid(item.senderID) && item.senderID != "system" ? UserID(trusted: item.senderID) : nil,
                               conversationID: item.conversationID)
    }
}

/// Once an hour (each node may; the deletes are idempotent): per-user feed entries past their retention, old
/// events, finished jobs and webhook deliveries (`RetentionSettings`), shared rate-limit keys whose allowance
/// is full again, and shared flood marks older than every window.
struct RetentionRunner: Service {
    let messaging: MessagingService
    let events: EventsRetention
    let rateLimiter: GCRARateLimiter
    let flood: FloodDetector?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await messaging.pruneFeed()
                    if removed > 0 { logger.info("pruned feed entries", metadata: ["count": .stringConvertible(removed)]) }
                } catch {
                    logger.warning("feed pruning failed", metadata: ["error": "\(error)"])
                }
                do {
                    let pass = try await events.run()
                    if pass != RetentionPass() {
                        logger.info("pruned the event log", metadata: [
                            "events": .stringConvertible(pass.events), "jobs": .stringConvertible(pass.jobs),
                            "webhook_deliveries": .stringConvertible(pass.webhookDeliveries),
                        ])
                    }
                } catch {
                    logger.warning("event log pruning failed", metadata: ["error": "\(error)"])
                }
                do {
                    _ = try await rateLimiter.pruneSharedCells()
                } catch {
                    logger.warning("rate-limit key pruning failed", metadata: ["error": "\(error)"])
                }
                do {
                    _ = try await flood?.pruneShared()
                } catch {
                    logger.warning("flood mark pruning failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}
