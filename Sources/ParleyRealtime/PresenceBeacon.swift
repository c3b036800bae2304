import Foundation
import Logging
import ParleyCore
import ParleyStorage
import SQLKit
import ServiceLifecycle

/// Publishes which users are connected to this node, so every node (and the job worker deciding whether a
/// message needs a push) can ask who is online anywhere.
///
/// Each node has a random id and a heartbeat row; its users' rows count only while the heartbeat is fresh,
/// so a node that dies stops counting within `staleAfter` without anyone cleaning up after it. Changes are
/// written in one transaction per `flushInterval`, whatever the connection churn: a reconnect storm costs
/// one write a second, not one per connection.
public final class PresenceBeacon: Service, Sendable {
    public static let migrations = MigrationGroup(context: "realtime", migrations: [
        Migration(1, "create presence of users per node") { _ in
            [
                "CREATE TABLE realtime_nodes (node_id TEXT PRIMARY KEY, heartbeat_at BIGINT NOT NULL)",
                """
                CREATE TABLE realtime_presence (
                    node_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    since BIGINT NOT NULL,
                    PRIMARY KEY (node_id, user_id)
                )
                """,
                "CREATE INDEX realtime_presence_by_user ON realtime_presence (user_id)",
            ]
        },
    ])

    let nodeID: String
    let hub: ConnectionHub
    let database: Database
    let clock: any WallClock
    let logger: Logger
    let flushInterval: Duration
    let heartbeatInterval: TimeInterval
    let staleAfter: TimeInterval

    init(hub: ConnectionHub, database: Database, clock: any WallClock, logger: Logger, flushInterval: Duration = .seconds(1),
         heartbeatInterval: TimeInterval = 10, staleAfter: TimeInterval = 45) {
        nodeID = hub.nodeID
        self.hub = hub
        self.database = database
        self.clock = clock
        self.logger = logger
        self.flushInterval = flushInterval
        self.heartbeatInterval = heartbeatInterval
        self.staleAfter = staleAfter
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastHeartbeat = Date.distantPast
            var needsFullSync = true
            while !Task.isCancelled {
                let now = self.clock.now()
                let changes = self.hub.takePresenceChanges()
                do {
                    if needsFullSync {
                        try await self.publishAll(now: now)
                        needsFullSync = false
                        lastHeartbeat = now
                    } else if !changes.isEmpty || now.timeIntervalSince(lastHeartbeat) >= self.heartbeatInterval {
                        try await self.publish(changes, now: now)
                        lastHeartbeat = now
                    }
                } catch {
                    // The changes are lost with this write: publish the whole set next time instead.
                    needsFullSync = true
                    self.logger.warning("presence publish failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.flushInterval)
            }
        }
        // Leaving: this node's users are no longer online here.
        try? await database.transaction { sql in
            try await sql.raw("DELETE FROM realtime_presence WHERE node_id = \(bind: self.nodeID)").run()
            try await sql.raw("DELETE FROM realtime_nodes WHERE node_id = \(bind: self.nodeID)").run()
        }
    }

    func publish(_ changes: [UserID: Bool], now: Date) async throws {
        let online = changes.filter(\.value).map(\.key)
        let offline = changes.filter { !$0.value }.map(\.key)
        try await database.transaction { sql in
            try await self.heartbeat(now: now, on: sql)
            for chunk in offline.chunked(into: 500) {
                try await sql.raw("""
                    DELETE FROM realtime_presence WHERE node_id = \(bind: self.nodeID)
                        AND user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                    """).run()
            }
            try await self.insert(online, now: now, on: sql)
        }
    }

    func publishAll(now: Date) async throws {
        let online = hub.onlineUsers
        try await database.transaction { sql in
            try await self.heartbeat(now: now, on: sql)
            try await sql.raw("DELETE FROM realtime_presence WHERE node_id = \(bind: self.nodeID)").run()
            try await self.insert(online, now: now, on: sql)
            // Nodes that stopped beating long ago: their rows no longer count, and nobody else will remove them.
            let dead = now.addingTimeInterval(-self.staleAfter * 10).unixMilliseconds
            try await sql.raw("""
                DELETE FROM realtime_presence WHERE node_id IN (SELECT node_id FROM realtime_nodes WHERE heartbeat_at < \(bind: dead))
                """).run()
            try await sql.raw("DELETE FROM realtime_nodes WHERE heartbeat_at < \(bind: dead)").run()
        }
    }

    private func heartbeat(now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO realtime_nodes (node_id, heartbeat_at) VALUES (\(bind: nodeID), \(bind: now.unixMilliseconds))
            ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
            """).run()
    }

    private func insert(_ users: [UserID], now: Date, on sql: any SQLDatabase) async throws {
        for chunk in users.chunked(into: 500) {
            let values = chunk.map { user -> SQLQueryString in "(\(bind: nodeID), \(bind: user.rawValue), \(bind: now.unixMilliseconds))" }
            try await sql.raw("""
                INSERT INTO realtime_presence (node_id, user_id, since) VALUES \(values.joined(separator: ", "))
                ON CONFLICT (node_id, user_id) DO NOTHING
                """).run()
        }
    }
}

/// Answers `PresenceDirectory` from the rows every node's beacon publishes.
public struct SQLPresenceDirectory: PresenceDirectory {
    let database: Database
    let clock: any WallClock
    let staleAfter: TimeInterval

    public init(database: Database, clock: any WallClock, staleAfter: TimeInterval = 45) {
        self.database = database
        self.clock = clock
        self.staleAfter = staleAfter
    }

    public func onlineUsers(among users: [UserID]) async throws -> Set<UserID> {
        var result: Set<UserID> = []
        let fresh = clock.now().addingTimeInterval(-staleAfter).unixMilliseconds
        for chunk in users.chunked(into: 500) {
            let rows = try await database.sql.raw("""
                SELECT DISTINCT p.user_id FROM realtime_presence p JOIN realtime_nodes n ON n.node_id = p.node_id
                WHERE n.heartbeat_at >= \(bind: fresh) AND p.user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows { result.insert(UserID(trusted: try row.decode(column: "user_id", as: String.self))) }
        }
        return result
    }
}
