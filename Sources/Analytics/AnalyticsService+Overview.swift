import Foundation
import ParleyCore

/// The dashboard's numbers for one day in one zone.
public struct AnalyticsOverview: Sendable, Equatable {
    public var zone: String
    /// The start of the day the figures are for (today in `zone`, unless asked otherwise).
    public var day: Date
    /// Metric name → value (nil when undefined), for the day; `*_7d` values cover the 7 days ending with it.
    public var values: [String: Double?]

    public static let dayMetrics = [
        "active_users", "wau", "mau", "stickiness", "new_users", "returning_users", "messages", "active_conversations", "senders",
        "readers", "reactions", "replies", "mentions", "notifications_requested", "notifications_delivered", "filter_hits",
        "reports_opened", "reports_resolved",
    ]
    public static let weekMetrics = ["response_rate", "first_response_time_median", "first_response_time_p90"]
}

extension AnalyticsService {
    /// The overview of the day containing `date` (default: now) in `zone` (default: the reporting zone).
    public func overview(at date: Date? = nil, zone: ReportingZone? = nil) async throws -> AnalyticsOverview {
        let zone = zone ?? settings.reportingZone
        let now = (date ?? clock.now()).unixMilliseconds
        let day = zone.day(ofMilliseconds: now)
        let dayStart = Date(unixMilliseconds: zone.start(ofDay: day))
        let dayEnd = Date(unixMilliseconds: zone.start(ofDay: day + 1))
        var values: [String: Double?] = [:]
        for metric in AnalyticsOverview.dayMetrics {
            let series = try await series(MetricQuery(metric: metric, from: dayStart, to: dayEnd, granularity: .day, zone: zone))
            values[metric] = series.points.first?.value ?? nil
        }
        let weekStart = Date(unixMilliseconds: zone.start(ofDay: day - 6))
        for metric in AnalyticsOverview.weekMetrics {
            // One bucket covering the 7 days: the turns of the whole week pooled, not an average of daily values.
            let series = try await weeklyPooled(metric, from: weekStart, to: dayEnd, zone: zone)
            values[metric + "_7d"] = series
        }
        return AnalyticsOverview(zone: zone.identifier, day: dayStart, values: values)
    }

    private func weeklyPooled(_ metric: String, from: Date, to: Date, zone: ReportingZone) async throws -> Double? {
        guard let definition = MetricCatalog.byName[metric] else { return nil }
        let range = PooledRange(start: from.unixMilliseconds, end: to.unixMilliseconds, zone: zone)
        let points = try await responseMetric(definition.source, range.bucketRange, on: database.sql)
        return points.first?.value ?? nil
    }
}

/// A single bucket spanning an arbitrary interval, for pooled figures.
struct PooledRange {
    let start: Int64
    let end: Int64
    let zone: ReportingZone

    var bucketRange: BucketRange {
        BucketRange(single: BucketRange.Bucket(key: 0, start: start, end: end), zone: zone)
    }
}

extension BucketRange {
    init(single bucket: Bucket, zone: ReportingZone) {
        self.granularity = .day
        self.zone = zone
        self.buckets = [bucket]
    }
}
