import Foundation
import Hummingbird
import Logging
import Moderation
import NIOCore
import ParleyCore
import ParleyHTTP
import ParleyRealtime
import Notifications
import ParleyStorage
import ServiceLifecycle

/// The Parley server as a Hummingbird application, with its background services.
public enum ParleyServer {
    public static let version = "0.1.0"

    /// Builds the router: middleware in order (request id, access log and metrics, errors, auth) and every controller.
    public static func buildRouter(services: ParleyServices, metrics: HTTPMetrics, trustedProxies: TrustedProxies = TrustedProxies())
        -> (Router<ParleyRequestContext>, RouteTable) {
        let router = Router(context: ParleyRequestContext.self)
        router.add(middleware: ClientAddressMiddleware(trusted: trustedProxies))
        router.add(middleware: RequestIDMiddleware(ids: services.ids))
        router.add(middleware: AccessLogMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(authenticator: services.authenticator))
        let routes = RouteTable(router: router, limiter: services.rateLimiter)
        let openAPIText = openAPIDocumentText()
        SystemController(isReady: { await services.database.isReachable() }, metrics: metrics, openAPI: { openAPIText })
            .register(on: routes)
        UsersController(users: services.users, clock: services.clock).register(on: routes)
        TokensController(tokens: services.tokens, users: services.users, apiKeys: services.apiKeys).register(on: routes)
        ConversationsController(messaging: services.messaging, users: services.users).register(on: routes)
        EventsAdminController(events: services.events, jobs: services.jobs, webhooks: services.webhooks).register(on: routes)
        ModerationController(service: services.moderation, overrides: services.rateLimitOverrides, limiter: services.rateLimiter)
            .register(on: routes)
        FilterController(words: services.sensitiveWords).register(on: routes)
        AnalyticsController(service: services.analytics, clock: services.clock).register(on: routes)
        NotificationsController(service: services.notifications, configs: services.notificationChannels, users: services.users,
                                authenticator: services.authenticator, broadcaster: services.notificationStreams, clock: services.clock,
                                devices: services.pushDevices)
            .register(on: routes)
        return (router, routes)
    }

    public static func openAPIBuilder() -> OpenAPIBuilder {
        var builder = OpenAPIBuilder()
        builder.addFoundation()
        builder.addMessaging()
        builder.addEventsAdmin()
        builder.addModeration()
        builder.addFilter()
        builder.addNotifications()
        builder.addAnalytics()
        return builder
    }

    static func openAPIDocumentText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(openAPIBuilder().document(version: version))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The HTTP application with the WebSocket gateway, and the live fan-out that feeds the gateway.
    ///
    /// The fan-out (and the notification feed that rides on it) are Services of their own: `build` runs them
    /// in the outer ServiceGroup so goaway goes out before the HTTP server stops; with `embedLiveFanout`
    /// (tests) the application runs them itself. `realtimeServices(live:services:logger:)` lists them.
    public static func makeApplication(
        services: ParleyServices, address: BindAddress, logger: Logger, gatewaySettings: GatewaySettings = GatewaySettings(),
        embedLiveFanout: Bool = false, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> (Application<RouterResponder<ParleyRequestContext>>, LiveFanout) {
        let metrics = HTTPMetrics()
        let (router, _) = buildRouter(services: services, metrics: metrics, trustedProxies: gatewaySettings.trustedProxies)
        let live = LiveFanout(events: services.events, messaging: services.messaging, database: services.database,
                              clock: services.clock, logger: logger)
        let gateway = Gateway(authenticator: services.authenticator, messaging: services.messaging, live: live, clock: services.clock,
                              ids: services.ids, settings: gatewaySettings, limiter: services.rateLimiter,
                              recordConnection: { user, device in await services.recordConnection(user: user, device: device, logger: logger) })
        metrics.registerGauge("parley_ws_connections", help: "Open WebSocket connections on this node.") { Double(live.connectionCount) }
        metrics.registerGauge("parley_ws_online_users", help: "Users with at least one connection on this node.") {
            Double(live.onlineUserCount)
        }
        metrics.registerGauge("parley_send_batch_fallbacks",
                              help: "Batches of pipelined sends the database failed since start (then stored one send at a time).") {
            Double(services.messaging.sendBatchFallbacks)
        }
        metrics.registerGauge("parley_sends_stored_under_lock",
                              help: "PostgreSQL sends whose conversation changed between their checks and their write since start.") {
            Double(services.messaging.sendsStoredUnderLock)
        }
        let app = Application(
            router: router,
            server: gateway.serverBuilder,
            // A reconnect storm (every client of a node at once, e.g. after a deploy) overflows a short accept
            // queue; the kernel then drops SYNs and those clients wait a whole second to retry. Measured with
            // 1,000 clients at once: the default 256 left a tail at 1.1-1.4 s. The kernel caps it at somaxconn.
            configuration: .init(address: address, serverName: "parley", backlog: 4096),
            services: embedLiveFanout ? realtimeServices(live: live, services: services, logger: logger) : [],
            onServerRunning: onServerRunning,
            logger: logger
        )
        return (app, live)
    }

    /// The live services of a serving node: the WebSocket fan-out, the feed that pushes notifications to
    /// WebSocket connections and SSE streams, the presence beacon and the relay of typing and presence between nodes.
    public static func realtimeServices(live: LiveFanout, services: ParleyServices, logger: Logger) -> [any Service] {
        let pusher = CompositeNotificationPusher([
            WebSocketNotificationPusher(live: live, service: services.notifications), services.notificationStreams,
        ])
        let feed = NotificationLiveFeed(service: services.notifications, events: services.events, pusher: pusher,
                                        database: services.database, logger: logger)
        return [live, NotificationLiveFeedService(feed: feed),
                live.presenceBeacon(database: services.database, clock: services.clock, logger: logger), live.signalRelay]
    }

    /// Opens the database, migrates it and returns the application ready to run.
    public static func build(
        configuration: ParleyConfiguration, environment: [String: String], logger: Logger
    ) async throws -> ServiceGroup {
        let dataDirectory = DataDirectory(path: configuration.dataDirectory)
        try dataDirectory.prepare()
        let secret = try dataDirectory.loadOrCreateSecret(environment: environment)
        let database = try await Database.open(configuration.database, logger: logger)
        let services = ParleyServices(
            database: database, secret: secret, platformKeys: try configuration.platformKeys(),
            platformIssuer: configuration.platformJWTIssuer, beforeSendHook: configuration.beforeSendHook,
            floodSettings: configuration.floodDetection ? FloodSettings() : nil,
            filterDictionaryFile: configuration.filterDictionaryFile, analyticsSettings: configuration.analyticsSettings,
            autoPushSettings: configuration.autoPushSettings, rateLimitPolicy: configuration.rateLimitPolicy,
            retentionSettings: configuration.retention, logger: logger
        )
        // Migrate (and load the filters) on a short-lived connection: the serving pool only runs inside the ServiceGroup.
        let migrationDatabase = try await Database.open(configuration.database, logger: logger)
        let applied = try await migrationDatabase.withRunningPool { migrating in
            let applied = try await Migrator(database: migrating).migrate(ParleyServices.migrations)
            try await services.sensitiveWords.reload(from: migrating)
            return applied
        }
        if !applied.isEmpty { logger.info("migrations applied", metadata: ["migrations": .array(applied.map { .string($0) })]) }
        var gatewaySettings = GatewaySettings()
        gatewaySettings.inboundRate = configuration.webSocketFramesPerSecond
        gatewaySettings.inboundBurst = configuration.webSocketFramesPerSecond * 4
        gatewaySettings.trustedProxies = configuration.trustedProxies
        let (app, live) = makeApplication(
            services: services, address: .hostname(configuration.host, port: configuration.port), logger: logger,
            gatewaySettings: gatewaySettings, onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                logger.notice("Parley is listening", metadata: [
                    "url": .string("http://\(configuration.host):\(port)"),
                    "database": .string(configuration.database.redacted),
                    "data_dir": .string(configuration.dataDirectory),
                    "get_a_token": .string("parley apikey create --scope server, then POST /v1/tokens with that key (see README)"),
                ])
            }
        )
        let application = app
        // Shutdown runs in reverse order: the worker finishes its attempts in flight, the consumers stop, the
        // gateway says goaway and drains its connections, the HTTP server stops, and the database closes last.
        let background = services.backgroundServices(workerID: workerID(), concurrency: configuration.workerConcurrency, logger: logger)
        return ServiceGroup(configuration: .init(
            services: [DatabasePoolService(database: database), application]
                + realtimeServices(live: live, services: services, logger: logger) + background,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
    }
}

extension ParleyServer {
    /// A name for this process in job leases: host and pid.
    static func workerID() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// `parley worker`: the event consumers and the job worker, without HTTP.
    public static func buildWorker(configuration: ParleyConfiguration, environment: [String: String], logger: Logger) async throws -> ServiceGroup {
        let dataDirectory = DataDirectory(path: configuration.dataDirectory)
        let secret = try dataDirectory.loadOrCreateSecret(environment: environment)
        let migrationDatabase = try await Database.open(configuration.database, logger: logger)
        _ = try await migrationDatabase.withRunningPool { database in
            try await Migrator(database: database).migrate(ParleyServices.migrations)
        }
        let database = try await Database.open(configuration.database, logger: logger)
        let services = ParleyServices(database: database, secret: secret, platformKeys: try configuration.platformKeys(),
                                      platformIssuer: configuration.platformJWTIssuer, beforeSendHook: configuration.beforeSendHook,
                                      floodSettings: configuration.floodDetection ? FloodSettings() : nil,
                                      filterDictionaryFile: configuration.filterDictionaryFile,
                                      analyticsSettings: configuration.analyticsSettings,
                                      autoPushSettings: configuration.autoPushSettings, rateLimitPolicy: configuration.rateLimitPolicy,
                                      retentionSettings: configuration.retention, logger: logger)
        logger.notice("Parley worker is running", metadata: ["worker_id": .string(workerID()), "database": .string(configuration.database.redacted)])
        return ServiceGroup(configuration: .init(
            services: [DatabasePoolService(database: database)]
                + services.backgroundServices(workerID: workerID(), concurrency: configuration.workerConcurrency, logger: logger),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
    }
}

/// Keeps the database's connection pool running for the life of the server, and closes it last.
struct DatabasePoolService: Service {
    let database: Database

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await database.runPool()
        }
        await database.close()
    }
}

/// Notifications pushed to a user's WebSocket connections on this node.
struct WebSocketNotificationPusher: NotificationPusher {
    let live: LiveFanout
    let service: NotificationService

    func connectedUsers(among users: [UserID]) -> Set<UserID> {
        Set(users.filter(live.isConnected))
    }

    func push(_ frame: NotificationFrame, to user: UserID) {
        switch frame {
        case .notification(let entry):
            live.push("notification", ["notification": NotificationsWire.entry(entry, user: user, service: service)], to: user)
        case .badge(let counts):
            live.push("badge", ["notifications": NotificationsWire.counts(counts)], to: user, ephemeral: true)
        }
    }
}

/// Runs the notification live feed for as long as the node serves.
struct NotificationLiveFeedService: Service {
    let feed: NotificationLiveFeed

    func run() async throws {
        await cancelWhenGracefulShutdown { await feed.run() }
    }
}
