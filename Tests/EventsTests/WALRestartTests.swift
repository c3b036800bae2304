import Foundation
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Testing

/// SQLite's WAL must start over under steady writes instead of growing with everything ever written: with
/// only passive checkpoints and commits back to back it never did (2 GB in six seconds of sends).
@Suite struct WALRestartTests {
    @Test func theWALStaysSmallWhileWritersNeverStop() async throws {
        try await TestDatabases.withConfiguration(.sqlite) { configuration in
            guard case .sqlite(let path) = configuration else { return }
            let database = try await Database.open(configuration, logger: TestDatabases.logger)
            try await database.withRunningPool { database in
                try await database.transaction { sql in
                    try await sql.raw("CREATE TABLE wal_probe (id INTEGER PRIMARY KEY, filler TEXT NOT NULL)").run()
                }
                // Four writers, small commits back to back: each commit appends at least one page (4 KB) to the WAL.
                let rowsPerWriter = 10_000
                try await withThrowingTaskGroup(of: Void.self) { writers in
                    for writer in 0..<4 {
                        writers.addTask {
                            for row in 0..<rowsPerWriter {
                                try await database.transaction { sql in
                                    try await sql.raw("""
                                        INSERT INTO wal_probe (id, filler) VALUES (\(bind: writer * rowsPerWriter + row), \(bind: "row \(row)"))
                                        """).run()
                                }
                            }
                        }
                    }
                    try await writers.waitForAll()
                }
                let appended = 4 * rowsPerWriter * 4096
                let walSize = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue ?? 0
                // The file keeps the largest size it reached. Never started over, it would hold every commit's pages;
                // started over every tenth of a second or so, it holds what a few intervals of commits write.
                #expect(walSize < appended / 3, "WAL is \(walSize) bytes after at least \(appended) bytes of commits")
                let count = try await database.sql.raw("SELECT COUNT(*) AS n FROM wal_probe").first()?.decode(column: "n", as: Int.self)
                #expect(count == 4 * rowsPerWriter)
            }
        }
    }
}
