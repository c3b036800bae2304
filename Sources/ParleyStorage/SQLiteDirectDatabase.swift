import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization

/// SQLKit's view of Parley's own SQLite connections: statements run in place on the caller's thread
/// (see `SQLiteHandle` for why), on one pinned connection (a transaction's) or on a connection
/// borrowed from the reader pool for the length of one statement.
struct SQLiteDirectDatabase: SQLDatabase {
    enum Source: Sendable {
        case pinned(SQLiteHandle)
        /// Reads on a borrowed reader; a statement that writes goes to the writer as a transaction of its own.
        case pool(SQLiteReaderPool, SQLiteWriter)
    }

    let source: Source
    let logger: Logger

    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        futureOfAsyncExecute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let text: String
        let binds: [SQLiteData]
        if let bulk = query as? BulkSQL {
            // Written for this: no serializer walk, no boxed binds.
            text = bulk.sqliteText
            binds = bulk.values.map(Self.sqliteValue)
        } else {
            var serializer = SQLSerializer(database: self)
            query.serialize(to: &serializer)
            text = serializer.sql
            binds = try serializer.binds.map(Self.sqliteValue)
        }
        switch source {
        case .pinned(let handle):
            try handle.execute(text, binds: binds, onRow: onRow)
        case .pool(let pool, let writer):
            let handle = try pool.borrow()
            let ran: Bool
            do {
                ran = try handle.execute(text, binds: binds, onlyIfReadOnly: true, onRow: onRow)
                pool.giveBack(handle)
            } catch {
                pool.giveBack(handle)
                throw error
            }
            if !ran {
                try await writer.transaction { writerSQL in try await writerSQL.execute(sql: query, onRow) }
            }
        }
    }

    /// A pinned connection is already a session; on the pool, reads need no single connection, so a session
    /// runs statement by statement as well.
    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    /// A BulkSQL value as SQLite stores it.
    static func sqliteValue(_ bound: BindValue) -> SQLiteData {
        switch bound {
        case .text(let text): .text(text)
        case .integer(let number): .integer(SQLiteInt64(number))
        case .real(let number): .float(number)
        case .bool(let flag): .integer(flag ? 1 : 0)
        case .null: .null
        }
    }

    /// The bound value as SQLite stores it: the usual types directly, anything else the way SQLiteKit encodes it.
    static func sqliteValue(_ value: any Encodable & Sendable) throws -> SQLiteData {
        if let bound = value as? BindValue { return sqliteValue(bound) }
        switch value {
        case let text as String: return .text(text)
        case let number as Int: return .integer(SQLiteInt64(number))
        case let number as Int64: return .integer(SQLiteInt64(number))
        case let flag as Bool: return .integer(flag ? 1 : 0)
        case let number as Double: return .float(number)
        default: return try SQLiteDataEncoder().encode(value)
        }
    }
}

extension SQLDatabase {
    /// SQLKit's future-returning `execute`, for databases whose real implementation is the async one.
    func futureOfAsyncExecute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }
}

/// Reader connections, lent out one statement (or session) at a time. WAL lets them read while the writer
/// commits. A reader is opened when all are busy, and kept if the pool is not yet full.
final class SQLiteReaderPool: Sendable {
    private let idle: Mutex<[SQLiteHandle]>
    private let all: Mutex<[SQLiteHandle]>
    private let open: @Sendable () throws -> SQLiteHandle
    let keep: Int

    init(keep: Int, open: @escaping @Sendable () throws -> SQLiteHandle) {
        self.keep = keep
        self.open = open
        idle = Mutex([])
        all = Mutex([])
    }

    func borrow() throws -> SQLiteHandle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        let handle = try open()
        all.withLock { $0.append(handle) }
        return handle
    }

    func giveBack(_ handle: SQLiteHandle) {
        let kept = idle.withLock { idle -> Bool in
            guard idle.count < keep else { return false }
            idle.append(handle)
            return true
        }
        if !kept {
            all.withLock { all in all.removeAll { $0 === handle } }
            handle.close()
        }
    }

    func closeAll() {
        let handles = all.withLock { all in
            defer { all.removeAll() }
            return all
        }
        idle.withLock { $0.removeAll() }
        for handle in handles { handle.close() }
    }
}
