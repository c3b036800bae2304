import Foundation
import Logging
import SQLKit

/// SQLite: one file in WAL mode, one writer connection owned by `SQLiteWriter` (group commit), and a pool
/// of reader connections; statements run in place on Parley's own connections (`SQLiteHandle`).
///
/// WAL lets readers proceed while the writer commits; `synchronous=NORMAL` is durable across process
/// crashes (an OS crash may lose the last transactions, never corrupt the file); the busy timeout covers
/// the rare checkpoint contention.
final class SQLiteBackend: DatabaseBackend {
    private let writer: SQLiteWriter
    private let writerHandle: SQLiteHandle
    private let readers: SQLiteReaderPool
    private let logger: Logger

    private init(writerHandle: SQLiteHandle, readers: SQLiteReaderPool, logger: Logger) {
        self.writerHandle = writerHandle
        self.readers = readers
        self.logger = logger
        writer = SQLiteWriter(handle: writerHandle, logger: logger)
    }

    static func open(path: String, logger: Logger, keptReaders: Int = 8) async throws -> SQLiteBackend {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = try openConnection(path: path)
        // The first connection switches the file to WAL; it is a property of the file from then on.
        try writer.executeScript("PRAGMA journal_mode=WAL")
        let readers = SQLiteReaderPool(keep: keptReaders) { try openConnection(path: path) }
        return SQLiteBackend(writerHandle: writer, readers: readers, logger: logger)
    }

    private static func openConnection(path: String) throws -> SQLiteHandle {
        let handle = try SQLiteHandle.open(path: path)
        try handle.executeScript("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON")
        return handle
    }

    var sql: any SQLDatabase {
        SQLiteDirectDatabase(source: .pool(readers, writer), logger: logger)
    }

    func transaction<T: Sendable>(engine: DatabaseEngine, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writer.transaction(body)
    }

    /// Nothing to keep alive; waits until cancelled so both engines behave alike under a ServiceGroup.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    func close() async {
        readers.closeAll()
        writerHandle.close()
    }
}
