import ParleyStorage

/// Analytics: a consumer of the event log that keeps hourly and daily rollups (active users, messages,
/// response times, interactions, the notification funnel, risk metrics) and answers metric queries.
///
/// The context exists as its own target from the start so its boundary is fixed; its stores, rules and
/// routes arrive with their issue. It owns the tables named `analytics_*`.
public enum AnalyticsContext {
    /// The context's migrations; none yet.
    public static let migrations = MigrationGroup(context: "analytics", migrations: [])
}
