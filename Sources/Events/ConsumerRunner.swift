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
    /// Which events of the next batch to decode and hand to `handle`, asked just before the batch is read, for
    /// consumers whose interest changes at runtime. Defaults to `types`.
    func interest() async throws -> EventInterest
}

/// What a consumer wants of the next batch.
public enum EventInterest: Sendable {
    case all
    /// The events whose type passes.
    case only(@Sendable (String) -> Bool)
    /// Nothing for now (a webhook fan-out without endpoints): the cursor moves to the log's head without reading
    /// the events in between.
    case nothing
}

extension EventConsumer {
    public var batchDelay: Duration { .milliseconds(100) }

    public func interest() async throws -> EventInterest {
        guard let types else { return .all }
        if types.isEmpty { return .nothing }
        return .only { @Sendable type in types.contains(type) }
    }
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
    /// The batch is read, and the events the consumer wants decoded, before the write transaction: on SQLite
    /// the one writer is the bottleneck under load, and a batch decoded inside it held every sender up. The
    /// transaction then locks the cursor and checks it has not moved: a second runner of the same consumer
    /// (another node) that handled this batch meanwhile makes this one read again instead of handling it twice.
    @discardableResult
    public func step(_ consumer: any EventConsumer) async throws -> Bool {
        let cursor = try await log.cursor(of: consumer.name)
        let window: EventWindow
        switch try await consumer.interest() {
        case .all: window = try await log.window(after: cursor, limit: batchSize, decoding: Set<String>?.none)
        case .only(let wanted): window = try await log.window(after: cursor, limit: batchSize, decoding: wanted)
        case .nothing: window = try await log.emptyWindow(after: cursor)
        }
        // Nothing new: an idle consumer must not open (and commit) a write transaction every poll, which would
        // also wake everything that waits for commits.
        guard let end = window.end else { return false }
        let now = clock.now()
        let batchSize = self.batchSize
        return try await database.transaction { sql in
            guard try await log.lockCursor(of: consumer.name, at: now, on: sql) == cursor else { return true }
            if !window.events.isEmpty { try await consumer.handle(window.events, on: sql) }
            try await log.commit(consumer: consumer.name, position: end, at: now, on: sql)
            return window.count == batchSize
        }
    }
}
