import Foundation
import NIOCore
import SQLKit
import SQLiteKit
import Synchronization
internal import CParleySQLite
internal import VaporCSQLite

/// One SQLite connection, driven synchronously on the calling thread, with a cache of prepared statements.
///
/// Why not SQLiteNIO's connection: it runs every statement on a thread pool and hands the result back
/// through an event loop and then a task continuation, three thread hops per statement; a chat send runs
/// about fifteen statements, and profiles showed 40% of the server's CPU in those wake-ups and 12% parsing
/// the same SQL again. SQLite statements on a WAL database take microseconds, less than one hop, so
/// running them in place is both faster and simpler. The vendored SQLite library is the same one
/// SQLiteNIO links (one copy of SQLite per process keeps its POSIX file locks coherent).
///
/// A handle is used by one caller at a time: the writer under the backend's write lock, a reader while
/// borrowed from the pool. The mutex makes a mistaken concurrent use (two child tasks sharing a transaction's
/// connection) safe rather than undefined; uncontended it costs a few nanoseconds.
final class SQLiteHandle: Sendable {
    private struct Prepared {
        let statement: OpaquePointer
        let columns: SQLiteColumns
    }

    private struct State: ~Copyable {
        var cache: [String: Prepared] = [:]
        var closed = false
    }

    /// Distinct statements kept prepared per connection. Statements with `IN (...)` lists and multi-row inserts
    /// of varying length (a batch of sends: up to 64 rows) make the set open-ended, so the cache starts over when
    /// it is full rather than growing.
    static let cacheLimit = 1024

    private nonisolated(unsafe) let raw: OpaquePointer
    private let state = Mutex(State())
    /// Frames in the WAL after this connection's latest commit, once `trackWALFrames` is on (the writer's).
    let walFrames = Atomic<Int>(0)

    private init(raw: OpaquePointer) {
        self.raw = raw
    }

    static func open(path: String) throws -> SQLiteHandle {
        var raw: OpaquePointer?
        // NOMUTEX: the handle's own mutex serialises its use; SQLite's per-call mutex would be a second one.
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &raw, flags, nil)
        guard status == SQLITE_OK, let raw else {
            let message = raw.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            if let raw { sqlite_nio_sqlite3_close_v2(raw) }
            throw SQLiteStatementError(code: status, message: "cannot open \(path): \(message)", sql: "")
        }
        sqlite_nio_sqlite3_busy_timeout(raw, 10_000)
        // Plans must not depend on bound values: otherwise SQLite marks a statement whose plan looked at a
        // parameter (an OR with IS NULL, a boolean against an index) to be compiled again on every new value,
        // which defeats the statement cache (measured: a few statements of every send re-parsed each time).
        parley_sqlite_enable_qpsg(UnsafeMutableRawPointer(raw))
        return SQLiteHandle(raw: raw)
    }

    /// Runs one statement with its binds, calling `onRow` for every result row. The statement stays
    /// prepared for the next call with the same SQL. With `onlyIfReadOnly`, a statement that would write is
    /// not run and the call returns false (reader connections hand writes to the writer).
    @discardableResult
    func execute(_ sql: String, binds: [SQLiteData], onlyIfReadOnly: Bool = false, onRow: (SQLiteResultRow) throws -> Void) throws -> Bool {
        if SQLiteStatementStats.enabled {
            let start = ContinuousClock.now
            defer { SQLiteStatementStats.recordStatement(sql, since: start) }
            return try run(sql, binds: binds, onlyIfReadOnly: onlyIfReadOnly, onRow: onRow)
        }
        return try run(sql, binds: binds, onlyIfReadOnly: onlyIfReadOnly, onRow: onRow)
    }

    private func run(_ sql: String, binds: [SQLiteData], onlyIfReadOnly: Bool, onRow: (SQLiteResultRow) throws -> Void) throws -> Bool {
        try state.withLock { state in
            guard !state.closed else { throw SQLiteStatementError(code: SQLITE_MISUSE, message: "the connection is closed", sql: sql) }
            let prepared = try preparedStatement(sql, in: &state)
            let statement = prepared.statement
            if onlyIfReadOnly, sqlite_nio_sqlite3_stmt_readonly(statement) == 0 { return false }
            let workRecorder = StatementWorkRecorder.current
            if workRecorder != nil { _ = sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_VM_STEP, 1) }
            defer {
                if let workRecorder {
                    let work = Int(sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_VM_STEP, 1))
                    workRecorder.record(.counted(sql: sql, work: work, plan: queryPlan(sql)))
                }
                sqlite_nio_sqlite3_reset(statement)
                sqlite_nio_sqlite3_clear_bindings(statement)
            }
            try bind(binds, to: statement, sql: sql)
            while true {
                let status = sqlite_nio_sqlite3_step(statement)
                if status == SQLITE_DONE { return true }
                guard status == SQLITE_ROW else { throw error(status, sql: sql) }
                try onRow(SQLiteResultRow(columns: prepared.columns, values: Self.rowValues(statement, count: prepared.columns.names.count)))
            }
        }
    }

    /// `EXPLAIN QUERY PLAN` of `sql`, one line per step (its `detail` column), for `Database.statementWork`. Called
    /// with the connection's lock held; the parameters stay unbound (the plan does not depend on them: QPSG).
    private func queryPlan(_ sql: String) -> [String] {
        var explain: OpaquePointer?
        guard sqlite_nio_sqlite3_prepare_v2(raw, "EXPLAIN QUERY PLAN " + sql, -1, &explain, nil) == SQLITE_OK, let explain else {
            return []
        }
        defer { sqlite_nio_sqlite3_finalize(explain) }
        var lines: [String] = []
        while sqlite_nio_sqlite3_step(explain) == SQLITE_ROW {
            if let detail = sqlite_nio_sqlite3_column_text(explain, 3) { lines.append(String(cString: detail)) }
        }
        return lines
    }

    /// Runs SQL text that may hold several statements and returns no rows (pragmas, schema changes).
    func executeScript(_ sql: String) throws {
        try state.withLock { state in
            guard !state.closed else { throw SQLiteStatementError(code: SQLITE_MISUSE, message: "the connection is closed", sql: sql) }
            var message: UnsafeMutablePointer<CChar>?
            let status = sqlite_nio_sqlite3_exec(raw, sql, nil, nil, &message)
            if status != SQLITE_OK {
                let text = message.map { String(cString: $0) } ?? "error \(status)"
                sqlite_nio_sqlite3_free(message)
                throw SQLiteStatementError(code: status, message: text, sql: sql)
            }
        }
    }

    /// Keeps `walFrames` up to date through SQLite's WAL hook, which runs after every commit on this connection.
    /// (The hook replaces SQLite's automatic checkpoint, which Parley turns off anyway.)
    func trackWALFrames() {
        state.withLock { _ in
            // Returns the previous hook's context (none): nothing to keep.
            _ = sqlite_nio_sqlite3_wal_hook(raw, { context, _, _, frames in
                guard let context else { return SQLITE_OK }
                Unmanaged<SQLiteHandle>.fromOpaque(context).takeUnretainedValue().walFrames.store(Int(frames), ordering: .relaxed)
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// Whether the connection is inside a transaction (BEGIN without COMMIT or ROLLBACK yet).
    var inTransaction: Bool {
        state.withLock { state in !state.closed && sqlite_nio_sqlite3_get_autocommit(raw) == 0 }
    }

    func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            for prepared in state.cache.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
            state.cache.removeAll()
            sqlite_nio_sqlite3_close_v2(raw)
        }
    }

    // MARK: Statements

    private func preparedStatement(_ sql: String, in state: inout State) throws -> Prepared {
        if let cached = state.cache[sql] { return cached }
        if state.cache.count >= Self.cacheLimit {
            for prepared in state.cache.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
            state.cache.removeAll(keepingCapacity: true)
        }
        var statement: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK else { throw error(status, sql: sql) }
        guard let statement else {
            // Only whitespace or a comment: nothing to run. Cache nothing; callers see no rows.
            throw SQLiteStatementError(code: SQLITE_MISUSE, message: "empty statement", sql: sql)
        }
        let count = Int(sqlite_nio_sqlite3_column_count(statement))
        var names: [String] = []
        names.reserveCapacity(count)
        for index in 0..<count {
            names.append(sqlite_nio_sqlite3_column_name(statement, Int32(index)).map { String(cString: $0) } ?? "")
        }
        let prepared = Prepared(statement: statement, columns: SQLiteColumns(names: names))
        state.cache[sql] = prepared
        return prepared
    }

    private func bind(_ binds: [SQLiteData], to statement: OpaquePointer, sql: String) throws {
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .integer(let number):
                status = sqlite_nio_sqlite3_bind_int64(statement, index, Int64(number))
            case .float(let number):
                status = sqlite_nio_sqlite3_bind_double(statement, index, number)
            case .text(let text):
                var text = text
                status = text.withUTF8 { bytes in
                    guard let base = bytes.baseAddress, !bytes.isEmpty else {
                        // An empty string, not NULL (a nil pointer would bind NULL).
                        return sqlite_nio_sqlite3_bind_text64(statement, index, "", 0, SQLiteHandle.transient, UInt8(SQLITE_UTF8))
                    }
                    return UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: bytes.count) { pointer in
                        sqlite_nio_sqlite3_bind_text64(statement, index, pointer, UInt64(bytes.count), SQLiteHandle.transient, UInt8(SQLITE_UTF8))
                    }
                }
            case .blob(let buffer):
                status = buffer.withUnsafeReadableBytes { bytes in
                    sqlite_nio_sqlite3_bind_blob64(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count),
                                                   SQLiteHandle.transient)
                }
            case .null:
                status = sqlite_nio_sqlite3_bind_null(statement, index)
            }
            guard status == SQLITE_OK else { throw error(status, sql: sql) }
        }
    }

    private static func rowValues(_ statement: OpaquePointer, count: Int) -> [SQLiteData] {
        var values: [SQLiteData] = []
        values.reserveCapacity(count)
        for column in 0..<Int32(count) {
            switch sqlite_nio_sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER:
                values.append(.integer(SQLiteInt64(sqlite_nio_sqlite3_column_int64(statement, column))))
            case SQLITE_FLOAT:
                values.append(.float(sqlite_nio_sqlite3_column_double(statement, column)))
            case SQLITE_TEXT:
                let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                if let pointer = sqlite_nio_sqlite3_column_text(statement, column) {
                    values.append(.text(String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)))
                } else {
                    values.append(.text(""))
                }
            case SQLITE_BLOB:
                let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                var buffer = ByteBufferAllocator().buffer(capacity: length)
                if let pointer = sqlite_nio_sqlite3_column_blob(statement, column) {
                    buffer.writeBytes(UnsafeRawBufferPointer(start: pointer, count: length))
                }
                values.append(.blob(buffer))
            default:
                values.append(.null)
            }
        }
        return values
    }

    private func error(_ status: Int32, sql: String) -> SQLiteStatementError {
        SQLiteStatementError(code: status, message: String(cString: sqlite_nio_sqlite3_errmsg(raw)), sql: sql)
    }

    /// SQLITE_TRANSIENT: SQLite copies bound text and blobs before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A failed SQLite call: the result code and SQLite's message (e.g. "UNIQUE constraint failed: ...").
public struct SQLiteStatementError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let sql: String

    public var description: String { "SQLite error \(code): \(message)" }
}

/// The column names of a prepared statement, shared by every row it returns.
final class SQLiteColumns: Sendable {
    let names: [String]
    let indexes: [String: Int]

    init(names: [String]) {
        self.names = names
        var indexes: [String: Int] = [:]
        // The first column of a name wins, as in SQLiteNIO (a join may repeat a name).
        for (index, name) in names.enumerated() where indexes[name] == nil { indexes[name] = index }
        self.indexes = indexes
    }
}

/// A result row, decoded the way SQLiteKit decodes its rows (so both drivers read the same values alike).
struct SQLiteResultRow: SQLRow {
    let columns: SQLiteColumns
    let values: [SQLiteData]

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.indexes[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.indexes[column] else { return true }
        return values[index] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns.indexes[column] else {
            throw DecodingError.keyNotFound(SQLiteColumnKey(column), .init(codingPath: [], debugDescription: "No column named \(column)."))
        }
        let value = values[index]
        // The common column types without the decoder's dynamic casts.
        switch value {
        case .text(let text) where D.self == String.self: return text as! D
        case .integer(let number) where D.self == Int64.self: return Int64(number) as! D
        case .integer(let number) where D.self == Int.self: return Int(number) as! D
        case .integer(let number) where D.self == Bool.self: return (number != 0) as! D
        case .float(let number) where D.self == Double.self: return number as! D
        default: return try SQLiteDataDecoder().decode(D.self, from: value)
        }
    }
}

private struct SQLiteColumnKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
