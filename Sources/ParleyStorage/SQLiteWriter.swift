import Foundation
import Logging
import SQLKit
import Synchronization

/// SQLite's one writer connection, with group commit.
///
/// Write transactions take turns on the connection (FIFO). When a transaction's body has run and another
/// is already waiting for its turn, the connection is handed over without committing: the next body runs
/// inside the same SQLite transaction, under a SAVEPOINT of its own, and whoever finds nobody waiting
/// commits for the whole group. Every caller returns only after the COMMIT that contains its work, so
/// "acknowledged" still means "committed"; a body that throws is rolled back to its savepoint alone and its
/// caller gets the error at once. Why: a commit writes every page the transaction touched to the WAL; ten
/// sends in one commit write the shared pages (the conversation row, the tail of the log, index leaves)
/// once instead of ten times, and the WAL fills (and checkpoints) ten times more slowly.
///
/// Each body runs in its caller's task, so cancelling the caller cancels its body like any other await.
final class SQLiteWriter: Sendable {
    private struct State {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
        /// Callers whose bodies ran inside the open transaction and who wait for its COMMIT.
        var awaitingCommit: [CheckedContinuation<Bool, any Error>] = []
        /// The WAL's size when the writer last checkpointed it itself (`checkpointIfStarved`).
        var lastBackstopFrames = 0
    }

    /// WAL frames (about 16 MB) past which the writer checkpoints itself after a commit: the background
    /// checkpointer (`SQLiteBackend.checkpoint`) normally keeps the WAL near 1,000 frames, but a task starved of
    /// CPU on a busy machine fell behind (a test measured 117 MB), and the WAL grows with every commit meanwhile.
    static let backstopFrames = 8_000

    /// Bodies committed together at most, so one commit's latency stays bounded under a steady stream.
    static let maxGroup = 64

    private let handle: SQLiteHandle
    private let database: SQLiteDirectDatabase
    private let state = Mutex(State())
    private let logger: Logger

    init(handle: SQLiteHandle, logger: Logger) {
        handle.trackWALFrames()
        self.handle = handle
        self.database = SQLiteDirectDatabase(source: .pinned(handle), logger: logger)
        self.logger = logger
    }

    /// Runs `body` in a write transaction and returns its value once that transaction has committed.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await takeTurn()
        let turnStart = ContinuousClock.now
        // Only the caller holding the turn touches the connection, so SQLite's own state says whether a group
        // is open (a previous caller handed over without committing).
        let joinsGroup = handle.inTransaction
        do {
            try run(joinsGroup ? "SAVEPOINT parley_tx" : DatabaseEngine.sqlite.beginWriteTransaction)
        } catch {
            // Nothing of this caller ran; earlier members of an open group still wait for their commit.
            passOn()
            throw error
        }

        let value: T
        do {
            value = try await body(database)
            if joinsGroup { try run("RELEASE parley_tx") }
        } catch {
            undo(joinedGroup: joinsGroup)
            throw error
        }

        if SQLiteStatementStats.enabled { SQLiteStatementStats.recordWriterBusy(since: turnStart) }
        // Someone is waiting: let them run inside this transaction and commit for us both later.
        let handedOver: Bool = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.waiting.isEmpty, state.awaitingCommit.count + 1 < Self.maxGroup else { return nil }
                state.awaitingCommit.append(continuation)
                return state.waiting.removeFirst()
            }
            if let next {
                next.resume()
            } else {
                continuation.resume(returning: false)
            }
        }
        if handedOver { return value }
        let commitStart = ContinuousClock.now
        defer { if SQLiteStatementStats.enabled { SQLiteStatementStats.recordWriterBusy(since: commitStart) } }
        try commitGroup()
        return value
    }

    /// Runs `body` while no write transaction is open or can start (checkpoints that must finish): waits
    /// for the connection like a transaction does, commits the group in progress if one was handed over,
    /// then holds the connection until `body` returns.
    func paused<T>(_ body: () throws -> T) async throws -> T {
        await takeTurn()
        if handle.inTransaction {
            // A group was handed over to us: commit it for its members before pausing.
            try commitGroup(endingTurn: false)
        }
        defer { endTurn() }
        return try body()
    }

    /// Waits for the connection (FIFO).
    private func takeTurn() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state -> Bool in
                if !state.busy {
                    state.busy = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    /// Runs one statement of the writer's own (transaction control), without rows.
    private func run(_ statement: String) throws {
        try handle.execute(statement, binds: [], onRow: { _ in })
    }

    /// Ends a turn that leaves the transaction as it is: the next waiter continues the open group, or, with
    /// nobody waiting, the group (if any) is committed for its members.
    private func passOn() {
        guard handle.inTransaction, state.withLock({ $0.waiting.isEmpty }) else {
            endTurn()
            return
        }
        try? commitGroup()
    }

    /// Gives the connection to the next waiter, or marks it free.
    private func endTurn() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// Undoes a body that threw: its savepoint alone when it joined a group, else the whole transaction.
    private func undo(joinedGroup: Bool) {
        if joinedGroup {
            do {
                try run("ROLLBACK TO parley_tx")
                try run("RELEASE parley_tx")
            } catch {
                // The savepoint could not be undone alone (SQLite may have ended the transaction): the group fails.
                failGroup(error)
                return
            }
            // The group goes on without this body; its earlier members still wait for the commit.
            passOn()
            return
        }
        failGroup(nil)
    }

    /// COMMITs the open transaction, resumes everyone waiting for it, and ends the turn (unless told not to;
    /// a failed commit always ends it).
    private func commitGroup(endingTurn: Bool = true) throws {
        do {
            try run("COMMIT")
        } catch {
            failGroup(error)
            throw error
        }
        for member in takeMembers() { member.resume(returning: true) }
        checkpointIfStarved()
        if endingTurn { endTurn() }
    }

    /// The backstop for a background checkpointer that fell behind: a PASSIVE checkpoint on this connection while
    /// it still holds the turn (so nothing new is written meanwhile), after which the next transaction starts the
    /// WAL over. Done again only after the WAL grew by another `backstopFrames` (a long reader can keep it from
    /// starting over, and each checkpoint syncs the database file).
    private func checkpointIfStarved() {
        let frames = handle.walFrames.load(ordering: .relaxed)
        let due = state.withLock { state -> Bool in
            if frames < state.lastBackstopFrames { state.lastBackstopFrames = 0 }  // it started over since
            guard frames > state.lastBackstopFrames + Self.backstopFrames else { return false }
            state.lastBackstopFrames = frames
            return true
        }
        guard due else { return }
        do {
            try run("PRAGMA wal_checkpoint(PASSIVE)")
        } catch {
            logger.warning("SQLite checkpoint after commit failed", metadata: ["error": "\(error)"])
        }
    }

    /// Rolls the open transaction back and tells its waiting members (with `error`, or a generic one).
    private func failGroup(_ error: (any Error)?) {
        if handle.inTransaction {
            do {
                try run("ROLLBACK")
            } catch {
                logger.error("SQLite ROLLBACK failed", metadata: ["error": "\(error)"])
            }
        }
        let reason = error ?? SQLiteStatementError(code: 1, message: "a transaction committed together with this one failed", sql: "")
        for member in takeMembers() { member.resume(throwing: reason) }
        endTurn()
    }

    private func takeMembers() -> [CheckedContinuation<Bool, any Error>] {
        state.withLock { state in
            defer { state.awaitingCommit.removeAll() }
            return state.awaitingCommit
        }
    }
}
