import Foundation
import Logging
import ParleyCore
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
    private let checkpointer: Task<Void, Never>

    private init(writerHandle: SQLiteHandle, checkpointHandle: SQLiteHandle, readers: SQLiteReaderPool, logger: Logger) {
        self.writerHandle = writerHandle
        self.readers = readers
        self.logger = logger
        writer = SQLiteWriter(handle: writerHandle, logger: logger)
        checkpointer = Task { [writer] in await Self.checkpoint(checkpointHandle, writer: writer, every: .milliseconds(100), logger: logger) }
    }

    static func open(path: String, logger: Logger, keptReaders: Int = 8) async throws -> SQLiteBackend {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = try openConnection(path: path)
        // The first connection switches the file to WAL; it is a property of the file from then on.
        // The writer never checkpoints itself (see `checkpoint`).
        try writer.executeScript("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0")
        let checkpointHandle = try openConnection(path: path)
        let readers = SQLiteReaderPool(keep: keptReaders) { try openConnection(path: path) }
        return SQLiteBackend(writerHandle: writer, checkpointHandle: checkpointHandle, readers: readers, logger: logger)
    }

    /// Copies the WAL back into the database file, ten times a second, from a connection of its own. SQLite's
    /// default runs the checkpoint inside the COMMIT that crosses 1,000 WAL pages, on the writer, with an fsync:
    /// every sender waiting for that group commit waited for the checkpoint too.
    ///
    /// A PASSIVE checkpoint never blocks the writer or readers, but alone it never lets the WAL start over
    /// under steady writes: the WAL restarts from its beginning only when a write transaction begins with
    /// every frame already copied, and with commits back to back new frames always arrive while it copies.
    /// The file then grew without bound (measured: 2 GB in six seconds of sends), and every commit paid the
    /// kernel for fresh pages at its end. So when the WAL holds more than `restartFrames`, the copy is finished
    /// while the writer is paused between transactions (it copies only what came in since the passive pass,
    /// then syncs the database file), and the next transaction restarts the WAL.
    private static func checkpoint(_ handle: SQLiteHandle, writer: SQLiteWriter, every interval: Duration, logger: Logger) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            do {
                // PASSIVE, even at close: it never waits for readers or the writer, so running it in place costs
                // only the copying (about a millisecond for a tenth of a second of writes).
                let frames = try passiveCheckpoint(handle)
                if frames > restartFrames, !Task.isCancelled {
                    _ = try await writer.paused { try passiveCheckpoint(handle) }
                }
            } catch {
                logger.warning("SQLite checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
        handle.close()
    }

    /// WAL frames (pages) above which the checkpoint pauses the writer to let the WAL start over: SQLite's own
    /// automatic checkpoint threshold, about 4 MB.
    static let restartFrames = 4_000

    /// Runs a PASSIVE checkpoint and returns how many frames the WAL holds.
    private static func passiveCheckpoint(_ handle: SQLiteHandle) throws -> Int {
        var frames = 0
        try handle.execute("PRAGMA wal_checkpoint(PASSIVE)", binds: []) { row in
            frames = try row.decode(column: "log", as: Int.self)
        }
        return frames
    }

    private static func openConnection(path: String) throws -> SQLiteHandle {
        let handle = try SQLiteHandle.open(path: path)
        // temp_store=MEMORY keeps savepoint sub-journals (group commit) in memory instead of spilling to a file.
        try handle.executeScript("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY")
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
        await waitUntilCancelled()
    }

    func close() async {
        SQLiteStatementStats.writeReport()
        checkpointer.cancel()
        await checkpointer.value
        readers.closeAll()
        writerHandle.close()
    }
}
