import Foundation
import Logging
import ParleyCore
import PostgresNIO
import SQLKit
import Synchronization

extension Database {
    /// Wakes the listeners of `channel` once the surrounding transaction commits: on PostgreSQL a `NOTIFY`
    /// (every process listening, this one included); on SQLite (one process) an in-process signal, sent by
    /// `transaction` after its COMMIT, or at once when `sql` is not inside a transaction (it autocommitted).
    public func notify(_ channel: String, on sql: any SQLDatabase) async throws {
        guard engine == .postgres else {
            notifyInProcess(channel)
            return
        }
        try await Self.pgNotify(channel, payload: "", on: sql)
    }

    /// PostgreSQL's NOTIFY as a statement on `sql` (delivered when its transaction commits).
    private static func pgNotify(_ channel: String, payload: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").run()
    }

    /// Wakes this process's waiters on `signal(channel)` once the surrounding transaction commits (at once when `sql`
    /// is not in a transaction), on either engine, without telling other processes: for fine-grained wake-ups
    /// (one per event type) that would cost a round trip each on PostgreSQL.
    public func notifyInProcess(_ channel: String) {
        if let pending = PendingNotifications.current {
            pending.add(channel)
        } else {
            localChannels.signal(channel).notify()
        }
    }

    /// The in-process signal of `channel` (see `notifyInProcess`; on SQLite also what `notify` signals).
    public func signal(_ channel: String) -> ChangeSignal {
        localChannels.signal(channel)
    }

    /// Calls `onNotify` for every notification on `channel` until the task is cancelled: PostgreSQL's `NOTIFY`
    /// (reconnecting after errors), or on SQLite the in-process signal.
    public func listen(_ channel: String, logger: Logger, onNotify: @escaping @Sendable () -> Void) async {
        guard engine == .postgres else {
            await localChannels.signal(channel).forEachChange(onNotify)
            return
        }
        // Anything sent while we were not listening: look once each time listening starts.
        await listenPayloads(channel, logger: logger, onListening: onNotify, onPayload: { _ in onNotify() })
    }
}

extension Database {
    /// Whether other processes may share this database (PostgreSQL), so node-local state must be relayed.
    public var isShared: Bool { engine == .postgres }

    /// Sends `payload` (at most about 7,900 bytes) on `channel` to every process listening with `listenPayloads`, at
    /// once (not inside a transaction). PostgreSQL only; on SQLite (one process) it does nothing.
    public func publish(_ channel: String, payload: String) async throws {
        try await publish(channel, payloads: [payload])
    }

    /// `publish` for several payloads that must arrive together and in order (one transaction: PostgreSQL delivers
    /// its notifications at the commit, in the order sent; separate statements could take different connections).
    public func publish(_ channel: String, payloads: [String]) async throws {
        guard engine == .postgres, !payloads.isEmpty else { return }
        guard payloads.count > 1 else {
            try await Self.pgNotify(channel, payload: payloads[0], on: sql)
            return
        }
        try await transaction { sql in
            for payload in payloads { try await Self.pgNotify(channel, payload: payload, on: sql) }
        }
    }

    /// Calls `onPayload` with every payload published on `channel` (this process's own included) until the task is
    /// cancelled, reconnecting after errors; `onListening` each time listening (re)starts, as anything published
    /// meanwhile was missed. On SQLite it only waits to be cancelled.
    public func listenPayloads(_ channel: String, logger: Logger, onListening: @escaping @Sendable () -> Void = {},
                               onPayload: @escaping @Sendable (String) -> Void) async {
        guard let postgres = backend as? PostgresBackend else {
            await waitUntilCancelled()
            return
        }
        while !Task.isCancelled {
            do {
                try await postgres.client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        onListening()
                        for try await notification in notifications { onPayload(notification.payload) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN failed; retrying", metadata: ["channel": .string(channel), "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// The channels a transaction's body notified, delivered by `Database.transaction` after its COMMIT.
/// Task-local, because the body runs in the caller's task (both engines) and `notify` sees only a connection.
final class PendingNotifications: Sendable {
    @TaskLocal static var current: PendingNotifications?

    private let names = Mutex<Set<String>>([])

    func add(_ channel: String) { names.withLock { _ = $0.insert(channel) } }
    var channels: Set<String> { names.withLock { $0 } }
}

/// One `ChangeSignal` per channel name, made on first use.
final class LocalChannels: Sendable {
    private let signals = Mutex<[String: ChangeSignal]>([:])

    func signal(_ channel: String) -> ChangeSignal {
        signals.withLock { signals in
            if let signal = signals[channel] { return signal }
            let signal = ChangeSignal()
            signals[channel] = signal
            return signal
        }
    }
}
