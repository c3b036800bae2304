import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Who blocked whom. Implements `BlockRelations`, through which Messaging refuses direct messages between
/// the two and drops mentions of a blocker by the blocked user. Blocking and unblocking are audited.
public struct BlockList: BlockRelations {
    let database: Database
    let audit: AuditLog
    let clock: any WallClock

    public init(database: Database, audit: AuditLog, clock: any WallClock) {
        self.database = database
        self.audit = audit
        self.clock = clock
    }

    /// Blocks `blocked` for `blocker`; returns the block and whether it is new (blocking twice is harmless).
    @discardableResult
    public func block(_ blocked: UserID, by blocker: UserID) async throws -> (block: Block, created: Bool) {
        guard blocked != blocker else { throw ParleyError.cannotBlockSelf }
        let now = clock.now()
        return try await database.transaction { sql in
            if let existing = try await Self.find(blocker, blocked, on: sql) { return (existing, false) }
            try await sql.raw("""
                INSERT INTO moderation_blocks (blocker, blocked, created_at)
                VALUES (\(bind: blocker.rawValue), \(bind: blocked.rawValue), \(bind: now.unixMilliseconds))
                ON CONFLICT (blocker, blocked) DO NOTHING
                """).run()
            try await audit.record(actor: "user:\(blocker.rawValue)", action: "block", subject: "user:\(blocked.rawValue)",
                                   reason: "", at: now, on: sql)
            return (Block(blocker: blocker, blocked: blocked, createdAt: now), true)
        }
    }

    /// Removes the block; returns whether there was one.
    @discardableResult
    public func unblock(_ blocked: UserID, by blocker: UserID) async throws -> Bool {
        let now = clock.now()
        return try await database.transaction { sql in
            guard try await Self.find(blocker, blocked, on: sql) != nil else { return false }
            try await sql.raw("""
                DELETE FROM moderation_blocks WHERE blocker = \(bind: blocker.rawValue) AND blocked = \(bind: blocked.rawValue)
                """).run()
            try await audit.record(actor: "user:\(blocker.rawValue)", action: "unblock", subject: "user:\(blocked.rawValue)",
                                   reason: "", at: now, on: sql)
            return true
        }
    }

    /// The users `blocker` blocked, ordered by id, paged by id.
    public func blocks(by blocker: UserID, page: PageRequest) async throws -> Page<Block> {
        let after = try page.cursor.map { cursor throws(ParleyError) in try Cursor.decode(cursor) } ?? ""
        let rows = try await database.sql.raw("""
            SELECT * FROM moderation_blocks WHERE blocker = \(bind: blocker.rawValue) AND blocked > \(bind: after)
            ORDER BY blocked LIMIT \(bind: page.limit + 1)
            """).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit, position: { $0.blocked.rawValue })
    }

    public func blockers(of user: UserID, among users: [UserID]) async throws -> Set<UserID> {
        guard !users.isEmpty else { return [] }
        var found: Set<UserID> = []
        for start in stride(from: 0, to: users.count, by: 500) {
            let chunk = users[start..<min(start + 500, users.count)]
            let rows = try await database.sql.raw("""
                SELECT blocker FROM moderation_blocks WHERE blocked = \(bind: user.rawValue)
                AND blocker IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows { found.insert(UserID(trusted: try row.decode(column: "blocker", as: String.self))) }
        }
        return found
    }

    public func eitherBlocks(_ first: UserID, _ second: UserID) async throws -> Bool {
        try await database.sql.raw("""
            SELECT blocker FROM moderation_blocks
            WHERE (blocker = \(bind: first.rawValue) AND blocked = \(bind: second.rawValue))
               OR (blocker = \(bind: second.rawValue) AND blocked = \(bind: first.rawValue))
            LIMIT 1
            """).first() != nil
    }

    static func find(_ blocker: UserID, _ blocked: UserID, on sql: any SQLDatabase) async throws -> Block? {
        try await sql.raw("""
            SELECT * FROM moderation_blocks WHERE blocker = \(bind: blocker.rawValue) AND blocked = \(bind: blocked.rawValue)
            """).first().map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> Block {
        Block(blocker: UserID(trusted: try row.decode(column: "blocker", as: String.self)),
              blocked: UserID(trusted: try row.decode(column: "blocked", as: String.self)),
              createdAt: try row.decodeDate("created_at"))
    }
}

extension BlockList: BlockRelationsInSQL {
    /// Two probes of the primary key rather than one EXISTS with an OR inside, which PostgreSQL answers with a
    /// bitmap OR of two index scans (costly to set up on every execution) and SQLite with a multi-index OR.
    public func eitherBlocksCondition(_ user: String, otherColumn column: String) -> BulkSQL {
        var condition = BulkSQL("(EXISTS (SELECT 1 FROM moderation_blocks b WHERE b.blocker = ")
        condition.bind(user)
        condition.append(" AND b.blocked = \(column)) OR EXISTS (SELECT 1 FROM moderation_blocks b WHERE b.blocker = \(column) AND b.blocked = ")
        condition.bind(user)
        condition.append("))")
        return condition
    }
}
