import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// Which statements run as named (prepared) statements on PostgreSQL, so that each connection plans them once.
///
/// Through an unnamed statement PostgreSQL parses and plans every execution again: measured with
/// `pg_stat_statements`, planning was about 60% of the server's time for a message send (370 µs of planning against
/// 210 µs of execution for its write statement alone). A named statement is parsed once per connection, and after five
/// executions PostgreSQL keeps a generic plan when it costs no more than the custom ones.
///
/// A statement gets a name once this process has run it `threshold` times (one-off statements, migrations among them,
/// stay unnamed), only if it is a query or a change (`BEGIN`, `COMMIT` and the like have no plan to keep), and only
/// while fewer than `capacity` statements have names: every connection of the pool may end up holding all of them in
/// the server's memory. A name is never given to another statement, as connections may still hold it. The key
/// includes the binds' types (a NULL bind leaves its type to the server), so one text bound with a value here and a
/// NULL there gets two names.
final class PostgresNamedStatements: Sendable {
    struct Key: Hashable, Sendable {
        var sql: String
        var types: [UInt32]
    }

    private struct State {
        var names: [Key: String] = [:]
        var sightings: [Key: Int] = [:]
        var retired: Set<Key> = []
        var next = 0
    }

    private let state = Mutex(State())
    let capacity: Int
    let threshold: Int

    init(capacity: Int = 128, threshold: Int = 3) {
        self.capacity = capacity
        self.threshold = threshold
    }

    /// The name `key` runs under, or nil to run it unnamed.
    func name(for key: Key) -> String? {
        state.withLock { state in
            if let name = state.names[key] { return name }
            guard state.names.count < capacity, !state.retired.contains(key), Self.isPlanned(key.sql) else { return nil }
            let seen = state.sightings[key, default: 0] + 1
            guard seen >= threshold else {
                // Statements built with varying shapes (IN lists of any length) would otherwise accumulate here.
                if state.sightings.count >= 4096 { state.sightings.removeAll(keepingCapacity: true) }
                state.sightings[key] = seen
                return nil
            }
            state.sightings[key] = nil
            state.next += 1
            let name = "parley_\(state.next)"
            state.names[key] = name
            return name
        }
    }

    /// Runs `key` unnamed from now on: its preparation failed, and PostgresNIO keeps a failed preparation's error for
    /// the name on that connection (a statement that ran before the migration creating its table would fail there for
    /// good), or its cached plan no longer fits (another node's migration changed a `SELECT *`'s columns).
    func retire(_ key: Key) {
        state.withLock { state in
            state.names[key] = nil
            state.retired.insert(key)
        }
    }

    var namedCount: Int { state.withLock { $0.names.count } }

    /// Whether `sql` is a statement PostgreSQL plans: its first word is SELECT, INSERT, UPDATE, DELETE or WITH.
    static func isPlanned(_ sql: String) -> Bool {
        let word = sql.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
            .prefix { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
        return plannedKeywords.contains(String(decoding: word.map { $0 | 0x20 }, as: UTF8.self))
    }

    private static let plannedKeywords: Set<String> = ["select", "insert", "update", "delete", "with"]

    /// Whether an error from a named statement means its name should not be used again: a preparation error (class
    /// 42: syntax, unknown table or column, types), a feature error (0A000: "cached plan must not change result type")
    /// or an unknown statement name (26000).
    static func retiresName(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("42") || state.hasPrefix("0A") || state == "26000"
    }
}

/// An `SQLDatabase` over one PostgreSQL connection that runs frequent statements by name (`PostgresNamedStatements`)
/// and everything else as PostgresKit would.
struct NamingPostgresSQLDatabase: SQLDatabase {
    let connection: PostgresConnection
    let names: PostgresNamedStatements
    let plain: any SQLDatabase

    init(connection: PostgresConnection, names: PostgresNamedStatements) {
        self.connection = connection
        self.names = names
        plain = connection.sql(queryLogLevel: nil)
    }

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { connection.eventLoop }
    var dialect: any SQLDialect { plain.dialect }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        guard let (bindings, types) = Self.bindings(binds) else {
            return try await plain.execute(sql: query, onRow)
        }
        if let recorder = StatementWorkRecorder.current, StatementWorkRecorder.explainable(sql) {
            recorder.record(.toExplain(sql: sql, bindings: bindings))
        }
        let key = PostgresNamedStatements.Key(sql: sql, types: types.map { $0.rawValue })
        guard let name = names.name(for: key) else {
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) { row in
                onRow(row.sql())
            }.get()
            return
        }
        do {
            let identity = NamedStatement.Identity(name: name, sql: sql, types: types)
            try await NamedStatement.$identity.withValue(identity) {
                for try await row in try await connection.execute(NamedStatement(bindings: bindings), logger: logger) {
                    onRow(row.sql())
                }
            }
        } catch {
            if PostgresNamedStatements.retiresName(error) { names.retire(key) }
            throw error
        }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    /// The binds as PostgresNIO sends them, with their types; nil when one is of a type only PostgresKit's generic
    /// encoding knows (the statement then runs through it, unnamed).
    static func bindings(_ binds: [any Encodable & Sendable]) -> (PostgresBindings, [PostgresDataType])? {
        var bindings = PostgresBindings(capacity: binds.count)
        var types: [PostgresDataType] = []
        types.reserveCapacity(binds.count)
        for bind in binds {
            let value: BindValue
            switch bind {
            case let bound as BindValue: value = bound
            case let text as String: value = .text(text)
            case let number as Int: value = .integer(Int64(number))
            case let number as Int64: value = .integer(number)
            case let number as Int32: value = .integer(Int64(number))
            case let flag as Bool: value = .bool(flag)
            case let number as Double: value = .real(number)
            default:
                // A nil optional of any type casts to none of the above.
                guard Mirror(reflecting: bind).displayStyle == .optional else { return nil }
                value = .null
            }
            switch value {
            case .text(let text): bindings.append(text); types.append(.text)
            case .integer(let number): bindings.append(number); types.append(.int8)
            case .real(let number): bindings.append(number); types.append(.float8)
            case .bool(let flag): bindings.append(flag); types.append(.bool)
            case .null: bindings.appendNull(); types.append(.null)
            }
        }
        return (bindings, types)
    }
}

/// A named statement whose name and text are only known at run time. PostgresNIO takes a prepared statement's name,
/// text and parameter types from static properties of its type, read when `execute` starts; here they come from a
/// task-local value set around that call.
private struct NamedStatement: PostgresPreparedStatement {
    struct Identity: Sendable {
        var name: String
        var sql: String
        var types: [PostgresDataType]
    }

    @TaskLocal static var identity = Identity(name: "", sql: "", types: [])

    static var name: String { identity.name }
    static var sql: String { identity.sql }
    static var bindingDataTypes: [PostgresDataType] { identity.types }

    typealias Row = PostgresRow

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
