import ParleyCore

// The Analytics context's errors, with their stable codes.
extension ParleyError {
    public static func unknownMetric(_ name: String) -> ParleyError {
        ParleyError(.notFound, code: "analytics.unknown_metric", message: "There is no metric called '\(name)'.",
                    details: ["metric": .string(name)])
    }

    public static func invalidRange(_ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "analytics.invalid_range", message: "The time range is invalid: \(reason)")
    }

    public static func rangeTooLarge(points: Int, limit: Int) -> ParleyError {
        ParleyError(.badRequest, code: "analytics.range_too_large",
                    message: "The range has \(points) points at this granularity; the limit is \(limit). Use a coarser granularity.",
                    details: ["points": .int(points), "limit": .int(limit)])
    }

    public static func unsupportedGranularity(_ metric: String, _ granularity: String) -> ParleyError {
        ParleyError(.badRequest, code: "analytics.unsupported_granularity",
                    message: "Metric '\(metric)' has no '\(granularity)' granularity.",
                    details: ["metric": .string(metric), "granularity": .string(granularity)])
    }

    public static func unsupportedBreakdown(_ metric: String, _ breakdown: String) -> ParleyError {
        ParleyError(.badRequest, code: "analytics.unsupported_breakdown",
                    message: "Metric '\(metric)' cannot be broken down by '\(breakdown)'.",
                    details: ["metric": .string(metric), "breakdown": .string(breakdown)])
    }

    public static func invalidTimeZone(_ identifier: String) -> ParleyError {
        ParleyError(.badRequest, code: "analytics.invalid_time_zone", message: "'\(identifier)' is not an IANA time zone.",
                    details: ["tz": .string(identifier)])
    }

    public static func unconfiguredTimeZone(_ identifier: String, configured: [String]) -> ParleyError {
        ParleyError(.badRequest, code: "analytics.unconfigured_time_zone",
                    message: "Days are counted in \(configured.joined(separator: " and ")) only, not in '\(identifier)'.",
                    details: ["tz": .string(identifier), "configured": .array(configured.map { .string($0) })])
    }
}
