import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Persistence of users. One SQL implementation serves SQLite and PostgreSQL.
public protocol UserStore: Sendable {
    /// Inserts or replaces the profile; returns the stored user and whether it was created.
    /// Records `user.created` or `user.updated` in the same transaction.
    func upsert(_ id: UserID, profile: UserProfile, actor: String, at: Date) async throws -> (user: User, created: Bool)
    func find(_ id: UserID) async throws -> User?
    /// Users ordered by id, starting after the cursor's id.
    func list(_ page: PageRequest) async throws -> Page<User>
    /// Sets or clears `deactivated_at`; returns nil when the user does not exist.
    func setActive(_ id: UserID, active: Bool, actor: String, at: Date) async throws -> User?
    /// The ids among `ids` that name existing, active users.
    func activeUsers(among ids: [UserID]) async throws -> Set<UserID>
    /// Active user ids greater than `after`, in id order, at most `limit` (broadcasts walk everyone this way).
    func activeUserIDs(after: UserID?, limit: Int) async throws -> [UserID]
}

public struct SQLUserStore: UserStore {
    let database: Database
    let outbox: any EventOutbox

    public init(database: Database, outbox: any EventOutbox) {
        self.database = database
        self.outbox = outbox
    }

    public static let migrations = MigrationGroup(context: "identity", migrations: [
        Migration(1, "create users and api keys") { _ in
            [
                """
                CREATE TABLE identity_users (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    avatar_url TEXT,
                    metadata TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    deactivated_at BIGINT
                )
                """,
                """
                CREATE TABLE identity_api_keys (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    secret_hash TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
            ]
        },
    ])

    public func upsert(_ id: UserID, profile: UserProfile, actor: String, at now: Date) async throws -> (user: User, created: Bool) {
        let metadata = try JSONValue.object(profile.metadata).jsonText()
        return try await database.transaction { sql in
            let existing = try await Self.select(id, on: sql)
            let user: User
            if var updated = existing {
                updated.name = profile.name
                updated.avatarURL = profile.avatarURL
                updated.metadata = profile.metadata
                updated.updatedAt = now
                try await sql.raw("""
                    UPDATE identity_users SET name = \(bind: profile.name), avatar_url = \(bind: profile.avatarURL),
                    metadata = \(bind: metadata), updated_at = \(bind: now.unixMilliseconds) WHERE id = \(bind: id.rawValue)
                    """).run()
                user = updated
            } else {
                user = User(id: id, name: profile.name, avatarURL: profile.avatarURL, metadata: profile.metadata,
                            createdAt: now, updatedAt: now, deactivatedAt: nil)
                try await sql.raw("""
                    INSERT INTO identity_users (id, name, avatar_url, metadata, created_at, updated_at)
                    VALUES (\(bind: id.rawValue), \(bind: profile.name), \(bind: profile.avatarURL), \(bind: metadata),
                    \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds))
                    """).run()
            }
            try await outbox.append(NewEvent(
                type: existing == nil ? "user.created" : "user.updated", actor: actor, subject: "user:\(id.rawValue)",
                payload: .object(["user_id": .string(id.rawValue), "name": .string(profile.name)]), occurredAt: now
            ), on: sql)
            return (user, existing == nil)
        }
    }

    public func find(_ id: UserID) async throws -> User? {
        try await Self.select(id, on: database.sql)
    }

    public func list(_ page: PageRequest) async throws -> Page<User> {
        let after = try page.cursor.map { cursor throws(ParleyError) in try Cursor.decode(cursor) } ?? ""
        let rows = try await database.sql.raw("""
            SELECT * FROM identity_users WHERE id > \(bind: after) ORDER BY id LIMIT \(bind: page.limit + 1)
            """).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit, position: { $0.id.rawValue })
    }

    public func setActive(_ id: UserID, active: Bool, actor: String, at now: Date) async throws -> User? {
        try await database.transaction { sql -> User? in
            guard var user = try await Self.select(id, on: sql) else { return nil }
            // Deactivating twice keeps the first time; reactivating an active user changes nothing.
            guard user.isActive != active else { return user }
            user.deactivatedAt = active ? nil : now
            user.updatedAt = now
            try await sql.raw("""
                UPDATE identity_users SET deactivated_at = \(bind: user.deactivatedAt?.unixMilliseconds),
                updated_at = \(bind: now.unixMilliseconds) WHERE id = \(bind: id.rawValue)
                """).run()
            try await outbox.append(NewEvent(
                type: active ? "user.reactivated" : "user.deactivated", actor: actor, subject: "user:\(id.rawValue)",
                payload: .object(["user_id": .string(id.rawValue)]), occurredAt: now
            ), on: sql)
            return user
        }
    }

    public func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        guard !ids.isEmpty else { return [] }
        var found: Set<UserID> = []
        // Chunks keep the statement under every engine's bind limit.
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            let rows = try await database.sql.raw("""
                SELECT id FROM identity_users WHERE deactivated_at IS NULL AND id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows { found.insert(UserID(trusted: try row.decode(column: "id", as: String.self))) }
        }
        return found
    }

    public func activeUserIDs(after: UserID?, limit: Int) async throws -> [UserID] {
        try await database.sql.raw("""
            SELECT id FROM identity_users WHERE deactivated_at IS NULL AND id > \(bind: after?.rawValue ?? "") ORDER BY id LIMIT \(bind: limit)
            """).all().map { UserID(trusted: try $0.decode(column: "id", as: String.self)) }
    }

    static func select(_ id: UserID, on sql: any SQLDatabase) async throws -> User? {
        try await sql.raw("SELECT * FROM identity_users WHERE id = \(bind: id.rawValue)").first().map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> User {
        let metadata = try row.decodeJSON("metadata").objectValue ?? [:]
        return User(
            id: UserID(trusted: try row.decode(column: "id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            avatarURL: try row.decodeOptional("avatar_url", as: String.self),
            metadata: metadata,
            createdAt: try row.decodeDate("created_at"),
            updatedAt: try row.decodeDate("updated_at"),
            deactivatedAt: try row.decodeOptionalDate("deactivated_at")
        )
    }
}
