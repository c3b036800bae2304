import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import SQLKit

/// Answers metric queries from the rollups, and maintains them: pruning by retention, rebuilding from the log.
public struct AnalyticsService: Sendable {
    let database: Database
    let events: EventLog
    let clock: any WallClock
    public let settings: AnalyticsSettings
    let store: AnalyticsStore

    public init(database: Database, events: EventLog, clock: any WallClock, settings: AnalyticsSettings = AnalyticsSettings()) {
        self.database = database
        self.events = events
        self.clock = clock
        self.settings = settings
        self.store = AnalyticsStore(settings: settings)
    }

    /// The event consumer that keeps the rollups; run it in the ConsumerRunner.
    public func consumer(logger: Logger = Logger(label: "parley.analytics")) -> AnalyticsConsumer {
        AnalyticsConsumer(store: store, settings: settings, clock: clock, logger: logger)
    }

    /// The zone a `tz` parameter names, refusing ids that are not IANA zones or that analytics does not count days in.
    public func zone(named identifier: String?) throws(ParleyError) -> ReportingZone {
        guard let identifier, !identifier.isEmpty else { return settings.reportingZone }
        guard let zone = ReportingZone(identifier: identifier) else { throw ParleyError.invalidTimeZone(identifier) }
        guard settings.zones.contains(zone) else {
            throw ParleyError.unconfiguredTimeZone(identifier, configured: settings.zones.map(\.identifier))
        }
        return zone
    }

    // MARK: Maintenance

    /// Clears every rollup and fact and moves the consumer's cursor back to the start of the log, so the consumer
    /// replays the whole log (the `parley analytics backfill` command). Safe while the consumer runs: it takes the
    /// consumer's cursor lock first, so it waits for a batch in progress. Events the log no longer holds are gone for good.
    public func rebuild() async throws {
        let now = clock.now()
        try await database.transaction { sql in
            _ = try await events.lockCursor(of: AnalyticsConsumer.consumerName, at: now, on: sql)
            for table in ["analytics_sets", "analytics_counts", "analytics_facts", "analytics_users", "analytics_conversations", "analytics_state"] {
                try await sql.raw("DELETE FROM \(unsafeRaw: table)").run()
            }
            try await events.resetCursor(of: AnalyticsConsumer.consumerName, at: now, on: sql)
        }
    }

    /// Deletes facts and rollups older than the configured retention. Returns how many facts and rollup rows went.
    @discardableResult
    public func prune() async throws -> (facts: Int, rollups: Int) {
        let now = clock.now().unixMilliseconds
        return try await database.transaction { sql in try await store.prune(now: now, on: sql) }
    }

    /// The recorded instant before which facts were pruned (0 when never).
    func factsPrunedBefore() async throws -> Int64 {
        try await store.state(AnalyticsStore.stateFactsPrunedBefore, on: database.sql) ?? 0
    }
}

extension AnalyticsStore {
    func prune(now: Int64, on sql: any SQLDatabase) async throws -> (facts: Int, rollups: Int) {
        var facts = 0
        var rollups = 0
        if let days = settings.factRetentionDays {
            let cutoff = now - Int64(days) * 86_400_000
            facts = try await sql.raw("DELETE FROM analytics_facts WHERE occurred_at < \(bind: cutoff) RETURNING fact_key").all().count
            let previous = try await state(Self.stateFactsPrunedBefore, on: sql) ?? 0
            if cutoff > previous { try await setState(Self.stateFactsPrunedBefore, cutoff, on: sql) }
        }
        if let days = settings.rollupRetentionDays {
            let cutoff = now - Int64(days) * 86_400_000
            var conditions: [(String, Granularity, Int64)] = [("UTC", .hour, ReportingZone.hour(ofMilliseconds: cutoff))]
            for zone in settings.zones {
                let day = zone.day(ofMilliseconds: cutoff)
                conditions.append((zone.identifier, .day, day))
                conditions.append((zone.identifier, .week, ReportingZone.week(ofDay: day)))
            }
            for (zone, granularity, bucket) in conditions {
                for table in ["analytics_counts", "analytics_sets"] {
                    rollups += try await sql.raw("""
                        DELETE FROM \(unsafeRaw: table) WHERE zone = \(bind: zone) AND granularity = \(bind: granularity.rawValue)
                        AND bucket < \(bind: bucket) RETURNING bucket
                        """).all().count
                }
            }
        }
        return (facts, rollups)
    }
}

extension AnalyticsService {
    /// Stores a whole day's set as the consumer would have built it: for the benchmark (bench/analytics), never for production.
    public func storeDayBitmapForBenchmark(_ bitmap: DenseBitmap, set: String, zone: ReportingZone, day: Int64) async throws {
        try await database.transaction { sql in
            try await store.store(bitmap, as: AnalyticsStore.SetKey(name: set, zone: zone.identifier, granularity: .day, bucket: day), on: sql)
        }
    }
}
