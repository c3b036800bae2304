/// Analytics: a consumer of the event log that keeps hourly and daily rollups (active users, messages,
/// response times, interactions, the notification funnel, risk metrics) and answers metric queries.
///
/// `AnalyticsConsumer` turns events into facts and rollups inside the consumer runner's transaction;
/// `AnalyticsService` answers metric queries, prunes, and rebuilds everything from the log. The context owns
/// the tables named `analytics_*` (see `AnalyticsContext.migrations`) and reads no other context's tables.
public enum AnalyticsContext {}
