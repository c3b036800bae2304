import ParleyStorage

/// The Analytics context's tables (`analytics_*`).
///
/// - `analytics_users` / `analytics_conversations`: the dense number given to each user and conversation the
///   first time analytics sees it (the members of the bitmaps), the instant a user was first active, a conversation's type.
/// - `analytics_sets`: exact sets per bucket as bitmaps (`active`, `senders`, `readers`, `conversations`), with their size.
/// - `analytics_facts`: raw facts, one row per counted thing under a unique key derived from its event id, so a replayed
///   event inserts nothing; pruned after the configured retention.
/// - `analytics_counts`: counters per metric, zone, granularity, bucket and breakdown, increased only by facts that were
///   new when inserted, so they equal a `COUNT(*)` over the facts and never drift under replay.
/// - `analytics_state`: small named values (the instant before which facts were pruned).
extension AnalyticsContext {
    public static let migrations = MigrationGroup(context: "analytics", migrations: [
        Migration(1, "create analytics rollups and facts") { engine in
            let blob = engine == .postgres ? "BYTEA" : "BLOB"
            return [
                """
                CREATE TABLE analytics_users (
                    user_id TEXT PRIMARY KEY,
                    number BIGINT NOT NULL UNIQUE,
                    first_active_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX analytics_users_first_active ON analytics_users (first_active_at)",
                """
                CREATE TABLE analytics_conversations (
                    conversation_id TEXT PRIMARY KEY,
                    number BIGINT NOT NULL UNIQUE,
                    type TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE analytics_sets (
                    name TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    granularity TEXT NOT NULL,
                    bucket BIGINT NOT NULL,
                    cardinality BIGINT NOT NULL,
                    bitmap \(blob) NOT NULL,
                    PRIMARY KEY (name, zone, granularity, bucket)
                )
                """,
                """
                CREATE TABLE analytics_facts (
                    fact_key TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    occurred_at BIGINT NOT NULL,
                    position BIGINT NOT NULL,
                    subject TEXT NOT NULL,
                    ref TEXT NOT NULL,
                    dim_a TEXT NOT NULL,
                    dim_b TEXT NOT NULL,
                    dim_c TEXT NOT NULL
                )
                """,
                "CREATE INDEX analytics_facts_kind_time ON analytics_facts (kind, occurred_at)",
                "CREATE INDEX analytics_facts_kind_ref ON analytics_facts (kind, ref, occurred_at)",
                """
                CREATE TABLE analytics_counts (
                    metric TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    granularity TEXT NOT NULL,
                    bucket BIGINT NOT NULL,
                    breakdown TEXT NOT NULL,
                    value BIGINT NOT NULL,
                    PRIMARY KEY (metric, zone, granularity, bucket, breakdown)
                )
                """,
                "CREATE TABLE analytics_state (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            ]
        },
    ])
}
