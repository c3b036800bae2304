import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

extension AnalyticsService {
    /// One metric's series. Throws `analytics.unknown_metric`, `analytics.invalid_range`, `analytics.range_too_large`,
    /// `analytics.unsupported_granularity` or `analytics.unsupported_breakdown` for a query it cannot answer.
    public func series(_ query: MetricQuery) async throws -> MetricSeries {
        guard let definition = MetricCatalog.byName[query.metric] else { throw ParleyError.unknownMetric(query.metric) }
        guard definition.granularities.contains(query.granularity) else {
            throw ParleyError.unsupportedGranularity(query.metric, query.granularity.rawValue)
        }
        if let breakdown = query.breakdown, !definition.breakdowns.contains(breakdown) {
            throw ParleyError.unsupportedBreakdown(query.metric, breakdown)
        }
        let range = try BucketRange(query, maxPoints: settings.maxPoints)
        let sql = database.sql
        let points: [MetricSeries.Point]
        switch definition.source {
        case .set(let name):
            points = try await setSizes(name, range, on: sql).map { point($0.0, $0.1) }
        case .rollingActive(let days):
            points = try await rollingActive(days: days, range, on: sql).map { point($0.0, $0.1) }
        case .stickiness:
            let dau = try await setSizes("active", range, on: sql)
            let mau = try await rollingActive(days: 30, range, on: sql)
            points = zip(dau, mau).map { day, month in
                let monthly = month.1 ?? 0
                return point(day.0, monthly > 0 ? (day.1 ?? 0) / monthly : nil)
            }
        case .newUsers:
            points = try await newUsers(range, on: sql).map { point($0.0, $0.1) }
        case .returningUsers:
            let active = try await setSizes("active", range, on: sql)
            let new = try await newUsers(range, on: sql)
            points = zip(active, new).map { point($0.0, max(0, ($0.1 ?? 0) - ($1.1 ?? 0))) }
        case .counter(let metric, let fixed):
            points = try await counter(metric, fixedBreakdown: fixed, breakdown: query.breakdown, range, on: sql)
        case .responseRate, .firstResponseTime:
            points = try await responseMetric(definition.source, range, on: sql)
        case .timeToAction(let percentile):
            points = try await timeToAction(percentile, range, on: sql)
        }
        return MetricSeries(metric: query.metric, granularity: query.granularity, zone: query.zone.identifier, isCount: definition.isCount,
                            points: points)
    }

    private func point(_ bucket: BucketRange.Bucket, _ value: Double?, breakdown: String? = nil) -> MetricSeries.Point {
        MetricSeries.Point(t: Date(unixMilliseconds: bucket.start), value: value, breakdown: breakdown)
    }

    // MARK: Sets

    /// The size of a set per bucket: the stored cardinality for hours and days, the union of the days for weeks.
    func setSizes(_ name: String, _ range: BucketRange, on sql: any SQLDatabase) async throws -> [(BucketRange.Bucket, Double?)] {
        switch range.granularity {
        case .hour, .day:
            let first = range.buckets.first!.key
            let last = range.buckets.last!.key
            let rows = try await sql.raw("""
                SELECT bucket, cardinality FROM analytics_sets WHERE name = \(bind: name) AND zone = \(bind: range.storageZone)
                AND granularity = \(bind: range.granularity.rawValue) AND bucket >= \(bind: first) AND bucket <= \(bind: last)
                """).all()
            var sizes: [Int64: Int64] = [:]
            for row in rows { sizes[try row.decode(column: "bucket", as: Int64.self)] = try row.decode(column: "cardinality", as: Int64.self) }
            return range.buckets.map { ($0, Double(sizes[$0.key] ?? 0)) }
        case .week:
            let firstDay = ReportingZone.firstDay(ofWeek: range.buckets.first!.key)
            let days = try await dayBitmaps(name, zone: range.zone.identifier, from: firstDay,
                                            through: ReportingZone.firstDay(ofWeek: range.buckets.last!.key) + 6, on: sql)
            return range.buckets.map { bucket in
                var union = DenseBitmap()
                let monday = ReportingZone.firstDay(ofWeek: bucket.key)
                for day in monday...(monday + 6) { if let bitmap = days[day] { union.formUnion(bitmap) } }
                return (bucket, Double(union.count))
            }
        }
    }

    /// Users active in the `days` days ending with each day of the range (WAU, MAU): an OR of the day bitmaps.
    func rollingActive(days: Int, _ range: BucketRange, on sql: any SQLDatabase) async throws -> [(BucketRange.Bucket, Double?)] {
        let first = range.buckets.first!.key
        let last = range.buckets.last!.key
        let bitmaps = try await dayBitmaps("active", zone: range.zone.identifier, from: first - Int64(days) + 1, through: last, on: sql)
        return range.buckets.map { bucket in
            var union = DenseBitmap()
            for day in (bucket.key - Int64(days) + 1)...bucket.key { if let bitmap = bitmaps[day] { union.formUnion(bitmap) } }
            return (bucket, Double(union.count))
        }
    }

    func dayBitmaps(_ name: String, zone: String, from: Int64, through: Int64, on sql: any SQLDatabase) async throws -> [Int64: DenseBitmap] {
        let rows = try await sql.raw("""
            SELECT bucket, bitmap FROM analytics_sets WHERE name = \(bind: name) AND zone = \(bind: zone) AND granularity = 'day'
            AND bucket >= \(bind: from) AND bucket <= \(bind: through)
            """).all()
        var result: [Int64: DenseBitmap] = [:]
        for row in rows {
            result[try row.decode(column: "bucket", as: Int64.self)] = try DenseBitmap(encoded: try row.decode(column: "bitmap", as: Data.self))
        }
        return result
    }

    func newUsers(_ range: BucketRange, on sql: any SQLDatabase) async throws -> [(BucketRange.Bucket, Double?)] {
        var result: [(BucketRange.Bucket, Double?)] = []
        for bucket in range.buckets {
            let row = try await sql.raw("""
                SELECT COUNT(*) AS n FROM analytics_users WHERE first_active_at >= \(bind: bucket.start) AND first_active_at < \(bind: bucket.end)
                """).first()
            result.append((bucket, Double(try row?.decode(column: "n", as: Int64.self) ?? 0)))
        }
        return result
    }

    // MARK: Counters

    func counter(
        _ metric: String, fixedBreakdown: String?, breakdown: String?, _ range: BucketRange, on sql: any SQLDatabase
    ) async throws -> [MetricSeries.Point] {
        let first = range.buckets.first!.key
        let last = range.buckets.last!.key
        let filter: SQLQueryString
        if let fixedBreakdown {
            filter = "breakdown = \(bind: fixedBreakdown)"
        } else if let breakdown {
            filter = "breakdown LIKE \(bind: breakdown + "=%")"
        } else {
            filter = "breakdown = ''"
        }
        let rows = try await sql.raw("""
            SELECT bucket, breakdown, value FROM analytics_counts WHERE metric = \(bind: metric) AND zone = \(bind: range.storageZone)
            AND granularity = \(bind: range.granularity.rawValue) AND bucket >= \(bind: first) AND bucket <= \(bind: last) AND \(filter)
            """).all()
        var values: [Int64: [String: Int64]] = [:]
        var labels = Set<String>()
        for row in rows {
            let label = try row.decode(column: "breakdown", as: String.self)
            values[try row.decode(column: "bucket", as: Int64.self), default: [:]][label] = try row.decode(column: "value", as: Int64.self)
            labels.insert(label)
        }
        guard let breakdown, fixedBreakdown == nil else {
            let label = fixedBreakdown ?? ""
            return range.buckets.map { point($0, Double(values[$0.key]?[label] ?? 0)) }
        }
        // Every breakdown value seen in the range gets a point in every bucket (0 where it had none).
        let prefix = breakdown + "="
        return range.buckets.flatMap { bucket in
            labels.sorted().map { label in
                point(bucket, Double(values[bucket.key]?[label] ?? 0), breakdown: String(label.dropFirst(prefix.count)))
            }
        }
    }

    // MARK: From facts

    func responseMetric(_ source: MetricDefinition.Source, _ range: BucketRange, on sql: any SQLDatabase) async throws -> [MetricSeries.Point] {
        let windowMs = Int64(settings.responseWindow * 1000)
        let start = range.buckets.first!.start
        let end = range.buckets.last!.end
        let rows = try await sql.raw("""
            SELECT ref, subject, occurred_at, position FROM analytics_facts WHERE kind = 'message' AND dim_b = 'direct' AND subject <> ''
            AND occurred_at >= \(bind: start) AND occurred_at <= \(bind: end + windowMs)
            """).all()
        let messages = try rows.map { row in
            ResponseTurns.Message(conversation: try row.decode(column: "ref", as: String.self), sender: try row.decode(column: "subject", as: String.self),
                                  at: try row.decode(column: "occurred_at", as: Int64.self), position: try row.decode(column: "position", as: Int64.self))
        }
        var previous: [String: (sender: String, at: Int64, position: Int64)] = [:]
        for chunk in Array(Set(messages.map(\.conversation))).sorted().chunked(AnalyticsStore.chunk) {
            let before = try await sql.raw("""
                SELECT f.ref, f.subject, f.occurred_at, f.position FROM analytics_facts f
                WHERE f.kind = 'message' AND f.dim_b = 'direct' AND f.subject <> '' AND f.ref IN (\(SQLList(chunk.map { SQLBind($0) })))
                AND f.occurred_at = (SELECT MAX(g.occurred_at) FROM analytics_facts g WHERE g.kind = 'message' AND g.ref = f.ref
                    AND g.subject <> '' AND g.occurred_at < \(bind: start))
                """).all()
            for row in before {
                let conversation = try row.decode(column: "ref", as: String.self)
                let candidate = (sender: try row.decode(column: "subject", as: String.self), at: try row.decode(column: "occurred_at", as: Int64.self),
                                 position: try row.decode(column: "position", as: Int64.self))
                if let existing = previous[conversation], existing.position > candidate.position { continue }
                previous[conversation] = candidate
            }
        }
        let turns = ResponseTurns.turns(messages, previousSender: previous.mapValues(\.sender))
        let now = clock.now().unixMilliseconds
        return range.buckets.map { bucket in
            let inBucket = turns.filter { $0.start >= bucket.start && $0.start < bucket.end }
            switch source {
            case .responseRate:
                let closed = inBucket.filter { $0.closed(windowMs: windowMs, nowMs: now) }
                let responded = closed.filter { $0.responded(windowMs: windowMs) }.count
                return point(bucket, closed.isEmpty ? nil : Double(responded) / Double(closed.count))
            case .firstResponseTime(let percentile):
                let durations = inBucket.filter { $0.responded(windowMs: windowMs) }.compactMap { turn in turn.answeredAt.map { $0 - turn.start } }
                return point(bucket, ResponseTurns.percentile(durations, percentile).map { Double($0) / 1000 })
            default:
                return point(bucket, nil)
            }
        }
    }

    func timeToAction(_ percentile: Double, _ range: BucketRange, on sql: any SQLDatabase) async throws -> [MetricSeries.Point] {
        let rows = try await sql.raw("""
            SELECT r.occurred_at AS resolved_at, (SELECT MIN(o.occurred_at) FROM analytics_facts o WHERE o.kind = 'report_opened'
                AND o.ref = r.ref) AS opened_at
            FROM analytics_facts r WHERE r.kind = 'report_resolved' AND r.occurred_at >= \(bind: range.buckets.first!.start)
            AND r.occurred_at < \(bind: range.buckets.last!.end)
            """).all()
        var durations: [(at: Int64, duration: Int64)] = []
        for row in rows {
            guard let opened = try row.decodeOptional("opened_at", as: Int64.self) else { continue }
            let resolved = try row.decode(column: "resolved_at", as: Int64.self)
            durations.append((resolved, max(0, resolved - opened)))
        }
        return range.buckets.map { bucket in
            let values = durations.filter { $0.at >= bucket.start && $0.at < bucket.end }.map(\.duration)
            return point(bucket, ResponseTurns.percentile(values, percentile).map { Double($0) / 1000 })
        }
    }
}
