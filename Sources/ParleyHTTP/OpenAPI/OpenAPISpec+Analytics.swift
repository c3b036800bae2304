import Analytics
import ParleyCore

/// The documented routes of the analytics API (`AnalyticsController`). Admins (role admin) or an admin API key.
extension OpenAPIBuilder {
    public mutating func addAnalytics() {
        let who = " Admins (role admin) or an admin API key."
        add([
            OpenAPIOperation("GET", "/v1/analytics/metrics", tag: "analytics", summary: "The metrics, their granularities and breakdowns." + who,
                             security: .either, responses: [(200, "The metric catalog", "AnalyticsMetricList")]),
            OpenAPIOperation("GET", "/v1/analytics/metrics/{name}", tag: "analytics",
                             summary: "One metric as a series over [from, to); CSV with ?format=csv or Accept: text/csv." + who,
                             security: .either,
                             query: [
                                 ("from", "string", "RFC 3339 start (inclusive); default: one span before 'to' (1 day, 30 days or 12 weeks)"),
                                 ("to", "string", "RFC 3339 end (exclusive); default now"),
                                 ("granularity", "string", "hour, day (default) or week"),
                                 ("tz", "string", "UTC or the configured reporting zone (IANA id) in which days and weeks are counted"),
                                 ("breakdown", "string", "a breakdown dimension the metric offers (see GET /v1/analytics/metrics)"),
                                 ("format", "string", "json (default) or csv"),
                             ],
                             responses: [(200, "The series (JSON, or text/csv: t[,breakdown],value)", "AnalyticsSeries")]),
            OpenAPIOperation("GET", "/v1/analytics/overview", tag: "analytics",
                             summary: "Dashboard figures for one day (DAU, WAU, MAU, stickiness, messages, ...) and 7-day response figures." + who,
                             security: .either,
                             query: [("tz", "string", "UTC or the configured reporting zone"), ("at", "string", "RFC 3339 instant in the day; default now")],
                             responses: [(200, "The overview", "AnalyticsOverview")]),
        ], schemas: [
            "AnalyticsMetricList": Schema.object([
                "items": Schema.array(Schema.object([
                    "name": Schema.enumeration(MetricCatalog.all.map(\.name)), "description": Schema.string,
                    "granularities": Schema.array(Schema.enumeration(Granularity.allCases.map(\.rawValue))),
                    "breakdowns": Schema.array(Schema.string),
                ], required: ["name", "description", "granularities", "breakdowns"])),
            ], required: ["items"]),
            "AnalyticsSeries": Schema.object([
                "metric": Schema.string, "granularity": Schema.enumeration(Granularity.allCases.map(\.rawValue)), "tz": Schema.string,
                "points": Schema.array(Schema.object([
                    "t": Schema.timestamp, "value": .object(["type": .array(["number", "null"])]), "breakdown": Schema.string,
                ], required: ["t", "value"])),
            ], required: ["metric", "granularity", "tz", "points"]),
            "AnalyticsOverview": Schema.object([
                "tz": Schema.string, "day": Schema.timestamp,
                "metrics": .object(["type": "object", "additionalProperties": .object(["type": .array(["number", "null"])])]),
            ], required: ["tz", "day", "metrics"]),
        ])
    }
}
