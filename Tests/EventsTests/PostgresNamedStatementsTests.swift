import Foundation
@testable import ParleyStorage
import ParleyTestSupport
import SQLKit
import Testing

/// Frequent statements run as named (prepared) statements on PostgreSQL. A name must give each execution its own
/// values, and must not keep failing once what made it fail is gone: PostgresNIO remembers a failed preparation for
/// the name on its connection, and a cached plan whose result columns changed fails on every execution.
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct PostgresNamedStatementsTests {
    static func names(of database: Database) throws -> PostgresNamedStatements {
        try #require(database.backend as? PostgresBackend).names
    }

    @Test func aFrequentStatementRunsByNameWithEachExecutionsOwnValues() async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: []) { database in
            try await database.sql.raw("CREATE TABLE named_probe (id BIGINT PRIMARY KEY, note TEXT, flag BOOLEAN NOT NULL)").run()
            let names = try Self.names(of: database)
            #expect(names.namedCount == 0)
            for id in 0..<20 {
                // Every third note is NULL: the same text with another bind type gets a name of its own.
                let note: String? = id % 3 == 0 ? nil : "note \(id)"
                try await database.sql.raw("""
                    INSERT INTO named_probe (id, note, flag) VALUES (\(bind: id), \(bind: note), \(bind: id % 2 == 0))
                    """).run()
            }
            var read: [Int: String?] = [:]
            for id in 0..<20 {
                let rows = try await database.sql.raw("SELECT id, note, flag FROM named_probe WHERE id = \(bind: id)").all()
                let row = try #require(rows.first)
                #expect(rows.count == 1)
                #expect(try row.decode(column: "flag", as: Bool.self) == (id % 2 == 0))
                read[try row.decode(column: "id", as: Int.self)] = try row.decode(column: "note", as: String?.self)
            }
            #expect(read == Dictionary(uniqueKeysWithValues: (0..<20).map { ($0, $0 % 3 == 0 ? nil : "note \($0)") }))
            // The insert with a note, the insert with NULL, the select.
            #expect(names.namedCount == 3)
            // Statements without a plan to keep never get a name.
            #expect(!PostgresNamedStatements.isPlanned("BEGIN"))
            #expect(!PostgresNamedStatements.isPlanned("CREATE TABLE t (id INT)"))
            #expect(PostgresNamedStatements.isPlanned("\n  WITH a AS (SELECT 1) SELECT * FROM a"))
        }
    }

    @Test func aStatementWhosePreparationFailedWorksOnceItsTableExists() async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: []) { database in
            let names = try Self.names(of: database)
            // One connection throughout: a failed preparation is remembered per connection.
            try await database.sql.withSession { sql in
                for _ in 0..<(names.threshold + 2) {
                    await #expect(throws: (any Error).self) {
                        try await sql.raw("SELECT note FROM later_probe WHERE id = \(bind: 1)").all()
                    }
                }
                try await sql.raw("CREATE TABLE later_probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL)").run()
                try await sql.raw("INSERT INTO later_probe (id, note) VALUES (1, 'there')").run()
                for _ in 0..<(names.threshold + 2) {
                    let row = try #require(try await sql.raw("SELECT note FROM later_probe WHERE id = \(bind: 1)").first())
                    #expect(try row.decode(column: "note", as: String.self) == "there")
                }
            }
        }
    }

    @Test func aNamedSelectOfEveryColumnRecoversFromAColumnAdded() async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: []) { database in
            let names = try Self.names(of: database)
            try await database.sql.withSession { sql in
                try await sql.raw("CREATE TABLE growing_probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL)").run()
                try await sql.raw("INSERT INTO growing_probe (id, note) VALUES (1, 'one')").run()
                for _ in 0..<(names.threshold + 2) {
                    _ = try await sql.raw("SELECT * FROM growing_probe WHERE id = \(bind: 1)").all()
                }
                #expect(names.namedCount >= 1)
                // What another node's migration would do while this one runs.
                try await sql.raw("ALTER TABLE growing_probe ADD COLUMN extra TEXT NOT NULL DEFAULT 'added'").run()
                // PostgreSQL refuses the cached plan once ("cached plan must not change result type"); after that the
                // statement runs unnamed and sees the new column.
                var failures = 0
                var extra: String?
                for _ in 0..<3 where extra == nil {
                    do {
                        let row = try #require(try await sql.raw("SELECT * FROM growing_probe WHERE id = \(bind: 1)").first())
                        extra = try row.decode(column: "extra", as: String.self)
                    } catch {
                        failures += 1
                    }
                }
                #expect(extra == "added")
                #expect(failures <= 1)
            }
        }
    }

    @Test func aStatementOfItsOwnDoesNotFailWhenAColumnIsAdded() async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: []) { database in
            let names = try Self.names(of: database)
            try await database.sql.raw("CREATE TABLE pooled_probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL)").run()
            try await database.sql.raw("INSERT INTO pooled_probe (id, note) VALUES (1, 'one')").run()
            for _ in 0..<(names.threshold + 5) {
                _ = try await database.sql.raw("SELECT * FROM pooled_probe WHERE id = \(bind: 1)").all()
            }
            try await database.sql.raw("ALTER TABLE pooled_probe ADD COLUMN extra TEXT NOT NULL DEFAULT 'added'").run()
            // Outside a transaction the refused cached plan is retried unnamed at once: no caller sees it.
            for _ in 0..<5 {
                let row = try #require(try await database.sql.raw("SELECT * FROM pooled_probe WHERE id = \(bind: 1)").first())
                #expect(try row.decode(column: "extra", as: String.self) == "added")
            }
        }
    }
}
