import Foundation
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Synchronization
import Testing

/// Transactions that queue behind each other share one COMMIT on SQLite (each under its own savepoint).
/// Whatever the grouping, every caller must see exactly its own outcome: its rows committed when it
/// returned, none of them when it threw, and never another caller's failure.
@Suite struct GroupCommitTests {
    struct Refused: Error, Equatable { let index: Int }
    final class Counter: Sendable { let value = Atomic<Int>(0) }

    @Test(arguments: TestDatabases.engines)
    func queuedTransactionsCommitOrFailEachOnItsOwn(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: []) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE group_probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL)").run()
            }
            let count = 40
            // The first transaction holds the writer until every other caller has started, so they queue behind it.
            let release = AsyncStream<Void>.makeStream()
            let started = Counter()
            let outcomes = try await withThrowingTaskGroup(of: (Int, Result<Int, Refused>).self) { group in
                group.addTask {
                    let value = try await database.transaction { sql -> Int in
                        try await sql.raw("INSERT INTO group_probe (id, note) VALUES (0, 'first')").run()
                        var iterator = release.stream.makeAsyncIterator()
                        await iterator.next()
                        return 0
                    }
                    return (0, .success(value))
                }
                for index in 1..<count {
                    group.addTask {
                        started.value.add(1, ordering: .relaxed)
                        do {
                            let value = try await database.transaction { sql -> Int in
                                try await sql.raw("INSERT INTO group_probe (id, note) VALUES (\(bind: index), \(bind: "row \(index)"))").run()
                                if index % 4 == 0 { throw Refused(index: index) }
                                if index % 7 == 0, engine == .sqlite {
                                    // A statement that fails inside the body, caught by the body: its transaction goes on
                                    // (on SQLite; PostgreSQL aborts the whole transaction at a failed statement).
                                    do {
                                        try await sql.raw("INSERT INTO group_probe (id, note) VALUES (0, 'duplicate')").run()
                                        Issue.record("a duplicate key was accepted")
                                    } catch {}
                                }
                                return index * 10
                            }
                            return (index, .success(value))
                        } catch let refused as Refused {
                            return (index, .failure(refused))
                        }
                    }
                }
                while started.value.load(ordering: .relaxed) < count - 1 { await Task.yield() }
                try await Task.sleep(for: .milliseconds(50))
                release.continuation.yield()
                var outcomes: [Int: Result<Int, Refused>] = [:]
                for try await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes
            }
            for index in 0..<count {
                if index % 4 == 0, index != 0 {
                    #expect(outcomes[index] == .failure(Refused(index: index)))
                } else {
                    #expect(outcomes[index] == .success(index * 10))
                }
            }
            let stored = try await database.sql.raw("SELECT id, note FROM group_probe ORDER BY id").all()
            let ids = try stored.map { try $0.decode(column: "id", as: Int.self) }
            #expect(ids == (0..<count).filter { $0 == 0 || $0 % 4 != 0 })
            let notes = try stored.map { try $0.decode(column: "note", as: String.self) }
            #expect(notes.first == "first")
            #expect(!notes.contains("duplicate"))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aWriteOutsideATransactionIsCommittedAndReadBack(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: []) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE loose_write (id BIGINT PRIMARY KEY, note TEXT)").run()
            }
            // On SQLite, `database.sql` is a reader connection: it hands statements that write to the writer.
            try await database.sql.raw("INSERT INTO loose_write (id, note) VALUES (1, \(bind: ""))").run()
            try await database.sql.raw("INSERT INTO loose_write (id, note) VALUES (2, \(bind: nil as String?))").run()
            let rows = try await database.sql.raw("SELECT id, note FROM loose_write ORDER BY id").all()
            #expect(try rows.map { try $0.decode(column: "id", as: Int.self) } == [1, 2])
            // An empty string stays an empty string; NULL stays NULL.
            #expect(try rows[0].decode(column: "note", as: String?.self) == "")
            #expect(try rows[1].decodeNil(column: "note"))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theSameStatementWithOtherValuesAndManyDistinctStatementsReadCorrectly(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: []) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE cache_probe (id BIGINT PRIMARY KEY, label TEXT NOT NULL, score DOUBLE PRECISION, flag BOOLEAN NOT NULL)").run()
                for id in 1...600 {
                    try await sql.raw("""
                        INSERT INTO cache_probe (id, label, score, flag) VALUES (\(bind: id), \(bind: "label \(id) ✓"), \(bind: Double(id) / 4), \(bind: id % 2 == 0))
                        """).run()
                }
            }
            // One statement text, many bind values: a cached statement must not keep the previous values.
            for id in stride(from: 1, through: 600, by: 37) {
                let row = try #require(try await database.sql.raw("SELECT label, score, flag FROM cache_probe WHERE id = \(bind: id)").first())
                #expect(try row.decode(column: "label", as: String.self) == "label \(id) ✓")
                #expect(try row.decode(column: "score", as: Double.self) == Double(id) / 4)
                #expect(try row.decode(column: "flag", as: Bool.self) == (id % 2 == 0))
            }
            // More distinct statement texts than the cache keeps (IN lists of every length up to 600).
            for length in 1...600 {
                let list = SQLList((1...length).map { SQLBind($0) })
                let row = try #require(try await database.sql.raw("SELECT COUNT(*) AS n FROM cache_probe WHERE id IN (\(list))").first())
                #expect(try row.decode(column: "n", as: Int.self) == length)
            }
        }
    }
}
