import ArgumentParser
import Foundation
import Identity
import Logging
import ParleyApp
import ParleyCore
import ParleyStorage
import ServiceLifecycle

/// The `parley` command: parses arguments and hands over to ParleyApp.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Parley: messaging, notifications, interactions and support for a platform, in one server.",
        version: ParleyServer.version,
        subcommands: [Serve.self, Worker.self, Migrate.self, APIKeyCommand.self, Token.self, AnalyticsCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// Flags shared by every command that touches the database.
struct StorageOptions: ParsableArguments {
    @Option(help: "Folder for the SQLite file, media and the generated secret (PARLEY_DATA_DIR).")
    var dataDir: String?

    @Option(help: "A postgres:// URL switches to PostgreSQL (PARLEY_DATABASE_URL); default: SQLite in the data folder.")
    var database: String?

    @Option(help: "trace, debug, info, notice, warning, error (PARLEY_LOG_LEVEL).")
    var logLevel: String?

    func configuration() throws -> ParleyConfiguration {
        var configuration = ParleyConfiguration()
        try configuration.apply(environment: ProcessInfo.processInfo.environment)
        if let dataDir { configuration.dataDirectory = dataDir }
        if let database { configuration.databaseURL = database }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel.lowercased()) else { throw ValidationError("unknown log level '\(logLevel)'") }
            configuration.logLevel = level
        }
        return configuration
    }

    func logger(_ configuration: ParleyConfiguration) -> Logger {
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        var logger = Logger(label: "parley")
        logger.logLevel = level
        return logger
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the server (migrates the database first).")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Address to listen on (PARLEY_HOST).")
    var host: String?

    @Option(help: "Port to listen on (PARLEY_PORT).")
    var port: Int?

    func run() async throws {
        var configuration = try storage.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        let logger = storage.logger(configuration)
        let server = try await ParleyServer.build(configuration: configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
        try await server.run()
    }
}

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run only the background work (event consumers, webhook deliveries, jobs); run several against PostgreSQL."
    )

    @OptionGroup var storage: StorageOptions

    @Option(help: "Jobs run at once (PARLEY_WORKER_CONCURRENCY).")
    var concurrency: Int?

    func run() async throws {
        var configuration = try storage.configuration()
        if let concurrency { configuration.workerConcurrency = concurrency }
        let logger = storage.logger(configuration)
        let worker = try await ParleyServer.buildWorker(configuration: configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
        try await worker.run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending migrations and exit.")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let configuration = try storage.configuration()
        let logger = storage.logger(configuration)
        try await ParleyCommands.withServices(configuration, logger: logger) { services in
            let applied = try await services.migrate()
            print(applied.isEmpty ? "Nothing to migrate." : "Applied:\n" + applied.map { "  \($0)" }.joined(separator: "\n"))
        }
    }
}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apikey", abstract: "Manage API keys.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key and print it once (only its hash is stored).")

        @OptionGroup var storage: StorageOptions

        @Option(help: "admin or server.")
        var scope: String

        @Option(help: "A name to recognise the key by.")
        var name: String = ""

        func run() async throws {
            guard let scope = APIKeyScope(rawValue: scope) else { throw ValidationError("--scope must be admin or server") }
            let configuration = try storage.configuration()
            let logger = storage.logger(configuration)
            try await ParleyCommands.withServices(configuration, logger: logger) { services in
                _ = try await services.migrate()
                let issued = try await services.apiKeys.create(name: name, scope: scope)
                print(issued.plaintext)
            }
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a user token (for development and scripts); creates the user if it does not exist yet."
    )

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The user id.")
    var userID: String

    @Option(help: "Comma-separated roles: user, agent, moderator, admin.")
    var roles: String = "user"

    @Option(help: "Lifetime in seconds.")
    var ttl: Int = 3600

    func run() async throws {
        let id: UserID
        do { id = try UserID(validating: userID) } catch { throw ValidationError(error.message) }
        var roleSet: Set<Role> = []
        for name in roles.split(separator: ",") {
            guard let role = Role(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown role '\(name)'")
            }
            roleSet.insert(role)
        }
        let configuration = try storage.configuration()
        let logger = storage.logger(configuration)
        let ttl = ttl
        let grantedRoles = roleSet.isEmpty ? [Role.user] : roleSet
        try await ParleyCommands.withServices(configuration, logger: logger) { services in
            _ = try await services.migrate()
            if try await services.users.find(id) == nil {
                _ = try await services.users.upsert(id, profile: try UserProfile(name: id.rawValue, avatarURL: nil, metadata: nil),
                                                    actor: "system", at: services.clock.now())
            }
            print(try services.tokens.mint(user: id, roles: grantedRoles, ttlSeconds: ttl).token)
        }
    }
}

struct AnalyticsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analytics", abstract: "Analytics maintenance.", subcommands: [Backfill.self])

    struct Backfill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clear the analytics rollups and rewind the analytics consumer: the running server (or worker) rebuilds them from the event log."
        )

        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let configuration = try storage.configuration()
            let logger = storage.logger(configuration)
            try await ParleyCommands.withServices(configuration, logger: logger) { services in
                _ = try await services.migrate()
                try await services.analytics.rebuild()
                print("Analytics cleared; the analytics consumer replays the event log from the start.")
            }
        }
    }
}
