import Crypto
import Events
import Foundation
import Identity
import Logging
import Messaging
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
    public let users: any UserStore
    public let apiKeys: APIKeyService
    public let tokens: TokenService
    public let authenticator: Authenticator
    public let messaging: MessagingService

    /// Every context's migrations, in dependency order.
    public static let migrations: [MigrationGroup] = [
        EventLog.migrations,
        SQLUserStore.migrations,
        MessagingService.migrations,
    ]

    public init(database: Database, secret: SymmetricKey, platformKeys: [JWTVerificationKey] = [], platformIssuer: String? = nil,
                clock: any WallClock = SystemWallClock(), ids: (any IDGenerator)? = nil,
                messagingSettings: MessagingSettings = MessagingSettings()) {
        let ids = ids ?? SortableIDGenerator(clock: clock)
        self.database = database
        self.clock = clock
        self.ids = ids
        events = EventLog(database: database, ids: ids)
        users = SQLUserStore(database: database, outbox: events)
        apiKeys = APIKeyService(database: database, ids: ids, clock: clock)
        tokens = TokenService(secret: secret, platformKeys: platformKeys, platformIssuer: platformIssuer, clock: clock, ids: ids)
        authenticator = Authenticator(tokens: tokens, apiKeys: apiKeys, users: users)
        messaging = MessagingService(database: database, outbox: events, users: IdentityUserDirectory(users: users), clock: clock,
                                     ids: ids, settings: messagingSettings)
    }

    public func migrate() async throws -> [String] {
        try await Migrator(database: database).migrate(Self.migrations)
    }
}

extension ParleyConfiguration {
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

/// Messaging's view of Identity: which users exist and are active.
struct IdentityUserDirectory: UserDirectory {
    let users: any UserStore

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await users.activeUsers(among: ids)
    }
}
