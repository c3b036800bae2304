import Analytics
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyCore

/// The analytics API: metric series (JSON or CSV), the catalog of metrics and the dashboard overview.
/// Every route needs a user with role admin or an API key of scope admin.
public struct AnalyticsController: Sendable {
    let service: AnalyticsService
    let clock: any WallClock

    public init(service: AnalyticsService, clock: any WallClock) {
        self.service = service
        self.clock = clock
    }

    public func register(on routes: RouteTable) {
        routes.add(.get, "/v1/analytics/metrics", policy: .userWithRoleOrAPIKey(.admin, .admin)) { _, _ in
            let items: [JSONValue] = MetricCatalog.all.map { metric in
                .object([
                    "name": .string(metric.name), "description": .string(metric.description),
                    "granularities": .array(Granularity.allCases.filter(metric.granularities.contains).map { .string($0.rawValue) }),
                    "breakdowns": .array(metric.breakdowns.map { .string($0) }),
                ])
            }
            return try JSONBody.response(JSONValue.object(["items": .array(items)]))
        }
        routes.add(.get, "/v1/analytics/metrics/{name}", policy: .userWithRoleOrAPIKey(.admin, .admin)) { request, context in
            let query = try metricQuery(request, name: context.parameters.get("name") ?? "")
            let series = try await service.series(query)
            if try wantsCSV(request) { return Self.csv(series) }
            return try JSONBody.response(Self.json(series))
        }
        routes.add(.get, "/v1/analytics/overview", policy: .userWithRoleOrAPIKey(.admin, .admin)) { request, _ in
            let zone = try service.zone(named: request.uri.queryParameters.get("tz"))
            let at = try timeQuery(request, "at")
            let overview = try await service.overview(at: at, zone: zone)
            var values: [String: JSONValue] = [:]
            for (name, value) in overview.values {
                let isCount = MetricCatalog.byName[name]?.isCount ?? false
                values[name] = Self.number(value, isCount: isCount)
            }
            return try JSONBody.response(JSONValue.object([
                "tz": .string(overview.zone), "day": .string(Timestamp.format(overview.day)), "metrics": .object(values),
            ]))
        }
    }

    func metricQuery(_ request: Request, name: String) throws -> MetricQuery {
        let granularity = try request.enumQuery("granularity", Granularity.self) ?? .day
        let zone = try service.zone(named: request.uri.queryParameters.get("tz"))
        let to = try timeQuery(request, "to") ?? clock.now()
        let span: TimeInterval = switch granularity {
        case .hour: 86_400
        case .day: 30 * 86_400
        case .week: 12 * 7 * 86_400
        }
        let from = try timeQuery(request, "from") ?? to.addingTimeInterval(-span)
        let breakdown = request.uri.queryParameters.get("breakdown").flatMap { $0.isEmpty ? nil : $0 }
        return MetricQuery(metric: name, from: from, to: to, granularity: granularity, zone: zone, breakdown: breakdown)
    }

    func timeQuery(_ request: Request, _ name: String) throws(ParleyError) -> Date? {
        guard let raw = request.uri.queryParameters.get(name), !raw.isEmpty else { return nil }
        guard let date = Timestamp.parse(raw) else { throw ParleyError.invalidParameter(name, "an RFC 3339 timestamp") }
        return date
    }

    /// CSV with `?format=csv` or `Accept: text/csv`; `?format=json` forces JSON.
    func wantsCSV(_ request: Request) throws(ParleyError) -> Bool {
        if let format = request.uri.queryParameters.get("format"), !format.isEmpty {
            guard format == "csv" || format == "json" else { throw ParleyError.invalidParameter("format", "csv or json") }
            return format == "csv"
        }
        return request.headers[.accept]?.lowercased().contains("text/csv") ?? false
    }

    static func number(_ value: Double?, isCount: Bool) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        return isCount ? .int(Int(value)) : .double(value)
    }

    static func json(_ series: MetricSeries) -> JSONValue {
        .object([
            "metric": .string(series.metric), "granularity": .string(series.granularity.rawValue), "tz": .string(series.zone),
            "points": .array(series.points.map { point in
                var object: [String: JSONValue] = [
                    "t": .string(Timestamp.format(point.t)), "value": number(point.value, isCount: series.isCount),
                ]
                if let breakdown = point.breakdown { object["breakdown"] = .string(breakdown) }
                return .object(object)
            }),
        ])
    }

    static func csv(_ series: MetricSeries) -> Response {
        let brokenDown = series.points.contains { $0.breakdown != nil }
        var text = brokenDown ? "t,breakdown,value\r\n" : "t,value\r\n"
        for point in series.points {
            let value: String
            if let number = point.value, number.isFinite {
                value = series.isCount ? String(Int(number)) : String(number)
            } else {
                value = ""
            }
            text += Timestamp.format(point.t) + ","
            if brokenDown { text += csvField(point.breakdown ?? "") + "," }
            text += value + "\r\n"
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"\(series.metric)-\(series.granularity.rawValue).csv\""
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Quotes a field that holds a comma, quote or line break; neutralises a leading formula character for spreadsheets.
    static func csvField(_ raw: String) -> String {
        var field = raw
        if let first = field.first, "=+-@".contains(first) { field = "'" + field }
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
