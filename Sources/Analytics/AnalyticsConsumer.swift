import Events
import Foundation
import Logging
import ParleyCore
import SQLKit
import Synchronization

/// The event consumer (`analytics`) that turns the log into facts, counters and active-user bitmaps.
///
/// It runs inside the ConsumerRunner's transaction, so its writes commit exactly when its cursor passes the
/// events. It is idempotent: replaying events (after a cursor reset, or `AnalyticsService.rebuild()`) gives the
/// same numbers, and an event is counted in the buckets of its `occurred_at` whenever it arrives. About once an
/// hour it also prunes by retention.
public final class AnalyticsConsumer: EventConsumer {
    public static let consumerName = "analytics"

    public let name = AnalyticsConsumer.consumerName
    /// Rollups need no sub-second freshness: one transaction a second however fast messages arrive, so analytics
    /// takes little from the writer that sends need.
    public let batchDelay: Duration = .seconds(1)
    public let types: Set<String>? = AnalyticsBatch.eventTypes

    let store: AnalyticsStore
    let settings: AnalyticsSettings
    let clock: any WallClock
    let logger: Logger
    private let lastPrune = Mutex<Int64>(0)

    init(store: AnalyticsStore, settings: AnalyticsSettings, clock: any WallClock, logger: Logger) {
        self.store = store
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    public func handle(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws {
        try await store.apply(AnalyticsBatch(events), on: sql)
        let now = clock.now().unixMilliseconds
        let due = lastPrune.withLock { last in
            guard now - last >= 3_600_000 else { return false }
            last = now
            return true
        }
        if due, settings.factRetentionDays != nil || settings.rollupRetentionDays != nil {
            let pruned = try await store.prune(now: now, on: sql)
            if pruned.facts + pruned.rollups > 0 {
                logger.info("analytics pruned", metadata: ["facts": "\(pruned.facts)", "rollups": "\(pruned.rollups)"])
            }
        }
    }
}
