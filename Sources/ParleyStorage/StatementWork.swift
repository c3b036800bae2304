import Foundation
import PostgresNIO
import Synchronization

/// How much work the engine did for one statement: for tests that a read's cost does not grow with the data behind
/// it. A plan that walks a conversation's whole history passes every functional test and only shows at scale, so
/// such tests compare the work of the same call on a short and a long history.
public struct StatementWork: Sendable {
    public let sql: String
    /// SQLite: the statement's virtual-machine steps (`SQLITE_STMTSTATUS_VM_STEP`). PostgreSQL: the rows every node of
    /// its plan returned or filtered out, over all loops, from `EXPLAIN ANALYZE` of the same text and binds (run
    /// again afterwards, in a transaction that is rolled back); there only reads (`SELECT`) are measured. Comparable
    /// only within one engine.
    public let work: Int
    /// The engine's plan for the statement, one line per step: SQLite's `EXPLAIN QUERY PLAN` (`SEARCH p USING INDEX
    /// ...`), PostgreSQL's `EXPLAIN ANALYZE` lines (`Index Scan using ... on messaging_members p ...`). For tests of a
    /// plan's shape: which tables a statement visits, and how often.
    public let plan: [String]
}

extension Database {
    /// Runs `body` and returns the work of every statement it ran through this database (on PostgreSQL, of every
    /// read), in order (tests).
    public func statementWork(of body: () async throws -> Void) async throws -> [StatementWork] {
        let recorder = StatementWorkRecorder()
        StatementWorkRecorder.inUse.store(true, ordering: .relaxed)
        try await StatementWorkRecorder.recording(into: recorder) { try await body() }
        var result: [StatementWork] = []
        for entry in recorder.entries {
            switch entry {
            case .counted(let sql, let work, let plan):
                result.append(StatementWork(sql: sql, work: work, plan: plan))
            case .toExplain(let sql, let bindings):
                guard let postgres = backend as? PostgresBackend else { continue }
                let (work, plan) = try await Self.explainedWork(sql, bindings, on: postgres.client)
                result.append(StatementWork(sql: sql, work: work, plan: plan))
            }
        }
        return result
    }

    /// The rows an `EXPLAIN ANALYZE` of the statement shows its nodes handling: `rows=R loops=L` of each node, plus
    /// the rows its filters removed (shown per loop, like R, on the lines after their node's); and the lines.
    private static func explainedWork(_ sql: String, _ bindings: PostgresBindings, on client: PostgresClient) async throws
        -> (work: Int, plan: [String]) {
        try await client.withConnection { connection in
            _ = try await connection.query("BEGIN", logger: connection.logger)
            var lines: [String] = []
            do {
                let rows = try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, FORMAT TEXT) " + sql, binds: bindings),
                                                      logger: connection.logger)
                for try await line in rows.decode(String.self) { lines.append(line) }
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: connection.logger)
                throw error
            }
            _ = try await connection.query("ROLLBACK", logger: connection.logger)
            var work = 0
            var loops = 1
            for line in lines {
                if let actual = line.range(of: "(actual ").map({ String(line[$0.upperBound...]) }),
                   let rows = Self.number(after: " rows=", in: actual), let nodeLoops = Self.number(after: " loops=", in: actual) {
                    loops = nodeLoops
                    work += rows * nodeLoops
                } else if let removed = Self.number(after: "Rows Removed by ", in: line, skippingTo: ": ") {
                    work += removed * loops
                }
            }
            return (work, lines)
        }
    }

    /// The integer right after `marker` (and after `skippingTo`, when given) in `line`.
    private static func number(after marker: String, in line: String, skippingTo: String? = nil) -> Int? {
        guard var rest = line.range(of: marker).map({ line[$0.upperBound...] }) else { return nil }
        if let skippingTo {
            guard let skip = rest.range(of: skippingTo) else { return nil }
            rest = rest[skip.upperBound...]
        }
        return Int(rest.prefix(while: \.isNumber))
    }
}

/// Collects the statements run while a `Database.statementWork` body runs (task-local, so child tasks count too).
final class StatementWorkRecorder: Sendable {
    @TaskLocal private static var recording: StatementWorkRecorder?
    /// Whether any process-wide `statementWork` has started: until then (always, in a server) a statement does not
    /// look through its task's locals for a recorder.
    static let inUse = Atomic<Bool>(false)

    /// The recorder of the `statementWork` call this task runs in, if any.
    static var current: StatementWorkRecorder? {
        inUse.load(ordering: .relaxed) ? recording : nil
    }

    /// Runs `body` with `recorder` as `current`.
    static func recording<T>(into recorder: StatementWorkRecorder, _ body: () async throws -> T) async rethrows -> T {
        try await $recording.withValue(recorder) { try await body() }
    }

    enum Entry: Sendable {
        /// Measured as it ran (SQLite).
        case counted(sql: String, work: Int, plan: [String])
        /// To be explained afterwards (PostgreSQL).
        case toExplain(sql: String, bindings: PostgresBindings)
    }

    private let recorded = Mutex<[Entry]>([])

    /// Whether PostgreSQL's statement is measured: reads only, since running a write again would meet its own rows
    /// (unique ids) and `EXPLAIN` cannot take BEGIN, COMMIT and the like.
    static func explainable(_ sql: String) -> Bool {
        sql.prefix(6).uppercased() == "SELECT"
    }

    func record(_ entry: Entry) { recorded.withLock { $0.append(entry) } }
    var entries: [Entry] { recorded.withLock { $0 } }
}
