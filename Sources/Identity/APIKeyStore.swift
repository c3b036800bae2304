import Crypto
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// A stored API key: everything but the secret, of which only a SHA-256 hash is kept.
public struct APIKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var scope: APIKeyScope
    public var createdAt: Date
    public var revokedAt: Date?
}

/// An API key as created: the only time its plaintext exists.
public struct IssuedAPIKey: Sendable {
    public var key: APIKey
    /// `prly_<id>_<secret>`: what the platform puts after `Authorization: Bearer`.
    public var plaintext: String
}

/// Creation, lookup and revocation of API keys.
///
/// Keys carry 256 random bits, so a fast hash (SHA-256) is the right storage: there is nothing to
/// brute-force, and verifying costs microseconds on every server request.
public struct APIKeyService: Sendable {
    static let prefix = "prly_"

    let database: Database
    let ids: any IDGenerator
    let clock: any WallClock

    public init(database: Database, ids: any IDGenerator, clock: any WallClock) {
        self.database = database
        self.ids = ids
        self.clock = clock
    }

    public func create(name: String, scope: APIKeyScope) async throws -> IssuedAPIKey {
        guard name.count <= 200 else { throw ParleyError.fieldTooLong("name", limit: 200) }
        let id = "k" + ids.next(prefix: "")
        let secret = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64URLEncodedString()
        let key = APIKey(id: id, name: name, scope: scope, createdAt: clock.now(), revokedAt: nil)
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO identity_api_keys (id, name, scope, secret_hash, created_at)
                VALUES (\(bind: id), \(bind: name), \(bind: scope.rawValue), \(bind: Self.hash(secret)), \(bind: key.createdAt.unixMilliseconds))
                """).run()
        }
        return IssuedAPIKey(key: key, plaintext: "\(Self.prefix)\(id)_\(secret)")
    }

    /// Whether a bearer credential has the shape of an API key (as opposed to a JWT).
    public static func looksLikeAPIKey(_ credential: String) -> Bool {
        credential.hasPrefix(prefix)
    }

    /// The key a plaintext credential names, if it exists, is not revoked and its secret matches.
    public func authenticate(_ plaintext: String) async throws -> APIKey? {
        guard plaintext.hasPrefix(Self.prefix) else { return nil }
        let rest = plaintext.dropFirst(Self.prefix.count)
        guard let separator = rest.firstIndex(of: "_") else { return nil }
        let id = String(rest[..<separator])
        let secret = String(rest[rest.index(after: separator)...])
        guard !id.isEmpty, id.count <= 64, !secret.isEmpty else { return nil }
        guard let row = try await database.sql.raw("SELECT * FROM identity_api_keys WHERE id = \(bind: id)").first() else {
            return nil
        }
        let storedHash = try row.decode(column: "secret_hash", as: String.self)
        guard constantTimeEquals(storedHash, Self.hash(secret)) else { return nil }
        let key = try Self.decode(row)
        return key.revokedAt == nil ? key : nil
    }

    public func list() async throws -> [APIKey] {
        try await database.sql.raw("SELECT * FROM identity_api_keys ORDER BY id").all().map(Self.decode)
    }

    /// Revokes a key; returns false when no such key exists.
    public func revoke(id: String) async throws -> Bool {
        let now = clock.now().unixMilliseconds
        return try await database.transaction { sql in
            let rows = try await sql.raw("""
                UPDATE identity_api_keys SET revoked_at = COALESCE(revoked_at, \(bind: now)) WHERE id = \(bind: id) RETURNING id
                """).all()
            return !rows.isEmpty
        }
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func decode(_ row: any SQLRow) throws -> APIKey {
        APIKey(
            id: try row.decode(column: "id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            scope: APIKeyScope(rawValue: try row.decode(column: "scope", as: String.self)) ?? .server,
            createdAt: try row.decodeDate("created_at"),
            revokedAt: try row.decodeOptionalDate("revoked_at")
        )
    }
}
