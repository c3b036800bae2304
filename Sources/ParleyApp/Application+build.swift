import Foundation
import Hummingbird
import Logging
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ServiceLifecycle

/// The Parley server as a Hummingbird application, with its background services.
public enum ParleyServer {
    public static let version = "0.1.0"

    /// Builds the router: middleware in order (request id, access log and metrics, errors, auth) and every controller.
    public static func buildRouter(services: ParleyServices, metrics: HTTPMetrics) -> (Router<ParleyRequestContext>, RouteTable) {
        let router = Router(context: ParleyRequestContext.self)
        router.add(middleware: RequestIDMiddleware(ids: services.ids))
        router.add(middleware: AccessLogMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(authenticator: services.authenticator))
        let routes = RouteTable(router: router)
        let openAPIText = openAPIDocumentText()
        SystemController(isReady: { await services.database.isReachable() }, metrics: metrics, openAPI: { openAPIText })
            .register(on: routes)
        UsersController(users: services.users, clock: services.clock).register(on: routes)
        TokensController(tokens: services.tokens, users: services.users, apiKeys: services.apiKeys).register(on: routes)
        return (router, routes)
    }

    public static func openAPIBuilder() -> OpenAPIBuilder {
        var builder = OpenAPIBuilder()
        builder.addFoundation()
        return builder
    }

    static func openAPIDocumentText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(openAPIBuilder().document(version: version))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Opens the database, migrates it and returns the application ready to run.
    public static func build(
        configuration: ParleyConfiguration, environment: [String: String], logger: Logger
    ) async throws -> some ApplicationProtocol {
        let dataDirectory = DataDirectory(path: configuration.dataDirectory)
        try dataDirectory.prepare()
        let secret = try dataDirectory.loadOrCreateSecret(environment: environment)
        let database = try await Database.open(configuration.database, logger: logger)
        let services = ParleyServices(
            database: database, secret: secret, platformKeys: try configuration.platformKeys(),
            platformIssuer: configuration.platformJWTIssuer
        )
        let metrics = HTTPMetrics()
        let (router, _) = buildRouter(services: services, metrics: metrics)
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "parley"),
            services: [DatabasePoolService(database: database)],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                logger.notice("Parley is listening", metadata: [
                    "url": .string("http://\(configuration.host):\(port)"),
                    "database": .string(configuration.database.redacted),
                    "data_dir": .string(configuration.dataDirectory),
                    "get_a_token": .string("parley apikey create --scope server, then POST /v1/tokens with that key (see README)"),
                ])
            },
            logger: logger
        )
        app.beforeServerStarts {
            let applied = try await services.migrate()
            if !applied.isEmpty { logger.info("migrations applied", metadata: ["migrations": .array(applied.map { .string($0) })]) }
        }
        return app
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
