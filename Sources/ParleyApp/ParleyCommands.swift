import Foundation
import Logging
import ParleyStorage

/// Support for the one-shot commands (`migrate`, `apikey create`, `token`).
public enum ParleyCommands {
    /// Opens the configured database with its pool running, builds the services, runs `body`, and closes everything.
    public static func withServices<T: Sendable>(
        _ configuration: ParleyConfiguration, logger: Logger, _ body: @Sendable (ParleyServices) async throws -> T
    ) async throws -> T {
        let environment = ProcessInfo.processInfo.environment
        let dataDirectory = DataDirectory(path: configuration.dataDirectory)
        let secret = try dataDirectory.loadOrCreateSecret(environment: environment)
        let database = try await Database.open(configuration.database, logger: logger)
        let platformKeys = try configuration.platformKeys()
        return try await database.withRunningPool { database in
            try await body(ParleyServices(database: database, secret: secret, platformKeys: platformKeys,
                                          platformIssuer: configuration.platformJWTIssuer,
                                          filterDictionaryFile: configuration.filterDictionaryFile,
                                          analyticsSettings: configuration.analyticsSettings))
        }
    }
}
