import Foundation
import Logging
import ParleyCore
import ParleyStorage
import ServiceLifecycle
import SQLKit

/// Something that processes the event log in order, from a durable cursor.
///
/// `handle` runs inside the transaction that also moves the consumer's cursor: whatever it writes (jobs,
/// rollups) is committed exactly when the cursor passes the events, so a crash never loses or doubles
/// the effect of an event. Work that leaves the database (HTTP calls) belongs in jobs it enqueues.
public protocol EventConsumer: Sendable {
    var name: String { get }
    /// The event types it wants; nil means all.
    var types: Set<String>? { get }
    func handle(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws
    /// How long to let events accumulate after a commit wakes the consumer. Every step is a write
    /// transaction (the cursor moves even past events the consumer ignores), so without a delay each
    /// consumer would add one write per message on the one SQLite writer.
    var batchDelay: Duration { get }
}

extension EventConsumer {
    public var batchDelay: Duration { .milliseconds(100) }
}

/// Runs event consumers as a Service, each from its durable cursor, waking on commits and polling.
public final class ConsumerRunner: Service, Sendable {
    let log: EventLog
    let consumers: [any EventConsumer]
    let database: Database
    let clock: any WallClock
    let logger: Logger
    let pollInterval: Duration
    let batchSize: Int

    public init(log: EventLog, consumers: [any EventConsumer], database: Database, clock: any WallClock, logger: Logger,
                pollInterval: Duration = .milliseconds(500), batchSize: Int = 200) {
        self.log = log
        self.consumers = consumers
        self.database = database
        self.clock = clock
        self.logger = logger
        self.pollInterval = pollInterval
        self.batchSize = batchSize
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for consumer in self.consumers {
                    group.addTask { await self.drive(consumer) }
                }
            }
        }
    }

    func drive(_ consumer: any EventConsumer) async {
        while !Task.isCancelled {
            let generation = database.commits.generation
            do {
                if try await step(consumer) { continue }
            } catch {
                logger.warning("event consumer failed; will retry", metadata: ["consumer": .string(consumer.name), "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
            await database.commits.wait(since: generation, timeout: pollInterval)
            if consumer.batchDelay > .zero { try? await Task.sleep(for: consumer.batchDelay) }
        }
    }

    /// Processes one batch; returns true when there may be more right away.
    ///
    /// The cursor is read and locked in the same transaction that runs the handler and moves it, so a
    /// second runner of the same consumer (another node) waits, then starts after this batch.
    @discardableResult
    public func step(_ consumer: any EventConsumer) async throws -> Bool {
        // A cheap look first: an idle consumer must not open (and commit) a write transaction every poll,
        // which would also wake everything that waits for commits.
        guard try await log.headPosition() > log.cursor(of: consumer.name) else { return false }
        let now = clock.now()
        let batchSize = self.batchSize
        return try await database.transaction { sql in
            let cursor = try await log.lockCursor(of: consumer.name, at: now, on: sql)
            // Read all types so the cursor can move past events the consumer ignores.
            let batch = try await log.read(after: cursor, limit: batchSize, on: sql)
            guard let last = batch.last else { return false }
            let wanted = consumer.types.map { types in batch.filter { types.contains($0.type) } } ?? batch
            if !wanted.isEmpty { try await consumer.handle(wanted, on: sql) }
            try await log.commit(consumer: consumer.name, position: last.position, at: now, on: sql)
            return batch.count == batchSize
        }
    }
}
