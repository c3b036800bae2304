import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization

/// SQLite: one file in WAL mode, one writer connection guarded by an async semaphore, a few reader connections.
///
/// WAL lets readers proceed while the writer commits; `synchronous=NORMAL` is durable across process
/// crashes (an OS crash may lose the last transactions, never corrupt the file); the busy timeout covers
/// the rare checkpoint contention.
final class SQLiteBackend: DatabaseBackend {
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncSemaphore(permits: 1)
    private let nextReader = Atomic<Int>(0)
    private let readerDatabases: [any SQLDatabase]

    private init(writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.writer = writer
        self.readers = readers
        self.readerDatabases = readers.map { $0.sql(queryLogLevel: nil) }
    }

    static func open(path: String, logger: Logger, readerCount: Int = 4) async throws -> SQLiteBackend {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = try await openConnection(path: path, logger: logger)
        // The first connection switches the file to WAL; it is a property of the file from then on.
        _ = try await writer.sql(queryLogLevel: nil).raw("PRAGMA journal_mode=WAL").all()
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            readers.append(try await openConnection(path: path, logger: logger))
        }
        return SQLiteBackend(writer: writer, readers: readers)
    }

    private static func openConnection(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let sql = connection.sql(queryLogLevel: nil)
        try await sql.raw("PRAGMA busy_timeout=10000").run()
        try await sql.raw("PRAGMA synchronous=NORMAL").run()
        try await sql.raw("PRAGMA foreign_keys=ON").run()
        return connection
    }

    var sql: any SQLDatabase {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return readerDatabases[index % readerDatabases.count]
    }

    func transaction<T: Sendable>(engine: DatabaseEngine, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withPermit {
            try await runTransaction(on: writer.sql(queryLogLevel: nil), engine: engine, body)
        }
    }

    /// Nothing to keep alive; waits until cancelled so both engines behave alike under a ServiceGroup.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    func close() async {
        for connection in readers + [writer] {
            try? await connection.close()
        }
    }
}
