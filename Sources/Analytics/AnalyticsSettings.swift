import Foundation

/// How analytics counts and what it keeps.
public struct AnalyticsSettings: Sendable {
    /// The second zone (besides UTC) in which days and weeks are counted. Changing it needs `AnalyticsService.rebuild()`.
    public var reportingZone: ReportingZone
    /// Days of raw facts kept (messages, reads, interactions, notification and risk facts); the response-time and
    /// time-to-action metrics are computed from them, so they reach back this far. Nil keeps them forever.
    public var factRetentionDays: Int?
    /// Days of rollups (counts and active-user bitmaps) kept; nil keeps them forever.
    public var rollupRetentionDays: Int?
    /// How long a direct message may wait for an answer and still count as responded (inclusive).
    public var responseWindow: TimeInterval
    /// The most points one metric query may return.
    public var maxPoints: Int

    public init(reportingZone: ReportingZone = .utc, factRetentionDays: Int? = 400, rollupRetentionDays: Int? = nil,
                responseWindow: TimeInterval = 86_400, maxPoints: Int = 1_000) {
        self.reportingZone = reportingZone
        self.factRetentionDays = factRetentionDays
        self.rollupRetentionDays = rollupRetentionDays
        self.responseWindow = responseWindow
        self.maxPoints = maxPoints
    }

    /// UTC first, then the reporting zone when it is another one.
    public var zones: [ReportingZone] {
        reportingZone == .utc ? [.utc] : [.utc, reportingZone]
    }
}
