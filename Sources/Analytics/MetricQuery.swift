import Foundation
import ParleyCore

/// A request for one metric's series: `[from, to)` cut into buckets of `granularity`, days counted in `zone`.
public struct MetricQuery: Sendable, Equatable {
    public var metric: String
    public var from: Date
    public var to: Date
    public var granularity: Granularity
    public var zone: ReportingZone
    /// A breakdown dimension the metric offers (`kind`, `conversation_type`, `channel`, ...), or nil for the total.
    public var breakdown: String?

    public init(metric: String, from: Date, to: Date, granularity: Granularity = .day, zone: ReportingZone = .utc, breakdown: String? = nil) {
        self.metric = metric
        self.from = from
        self.to = to
        self.granularity = granularity
        self.zone = zone
        self.breakdown = breakdown
    }
}

/// One metric's answer: a point per bucket (and per breakdown value when broken down).
public struct MetricSeries: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        /// The instant the bucket begins.
        public var t: Date
        /// Nil when the value is undefined (a ratio over nothing, a percentile of no durations).
        public var value: Double?
        public var breakdown: String?
    }

    public var metric: String
    public var granularity: Granularity
    public var zone: String
    public var isCount: Bool
    public var points: [Point]

    /// The value of the point that starts at `t` (with `breakdown`), for tests and dashboards.
    public func value(at t: Date, breakdown: String? = nil) -> Double? {
        points.first { $0.t == t && $0.breakdown == breakdown }?.value
    }
}

/// The buckets a query spans, each with its key (hour, day or week number) and its start and end instants.
struct BucketRange: Sendable {
    struct Bucket: Sendable, Equatable {
        var key: Int64
        var start: Int64
        var end: Int64
    }

    let granularity: Granularity
    let zone: ReportingZone
    let buckets: [Bucket]

    init(_ query: MetricQuery, maxPoints: Int) throws(ParleyError) {
        granularity = query.granularity
        zone = query.zone
        let from = query.from.unixMilliseconds
        let to = query.to.unixMilliseconds
        guard from < to else { throw ParleyError.invalidRange("'from' must be before 'to'") }
        let first = Self.key(of: from, query.granularity, query.zone)
        let last = Self.key(of: to - 1, query.granularity, query.zone)
        let count = Int(last - first + 1)
        let limit = min(maxPoints, query.granularity.maxPoints)
        guard count <= limit else { throw ParleyError.rangeTooLarge(points: count, limit: limit) }
        buckets = (first...last).map { key in
            Bucket(key: key, start: Self.start(of: key, query.granularity, query.zone), end: Self.start(of: key + 1, query.granularity, query.zone))
        }
    }

    static func key(of ms: Int64, _ granularity: Granularity, _ zone: ReportingZone) -> Int64 {
        switch granularity {
        case .hour: ReportingZone.hour(ofMilliseconds: ms)
        case .day: zone.day(ofMilliseconds: ms)
        case .week: ReportingZone.week(ofDay: zone.day(ofMilliseconds: ms))
        }
    }

    static func start(of key: Int64, _ granularity: Granularity, _ zone: ReportingZone) -> Int64 {
        switch granularity {
        case .hour: key * 3_600_000
        case .day: zone.start(ofDay: key)
        case .week: zone.start(ofDay: ReportingZone.firstDay(ofWeek: key))
        }
    }

    /// The zone under which rollups of this granularity are stored (hours are UTC hours for every zone).
    var storageZone: String { granularity == .hour ? ReportingZone.utc.identifier : zone.identifier }
}
