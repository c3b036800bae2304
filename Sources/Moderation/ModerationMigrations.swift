import ParleyStorage

/// The Moderation context's tables. Times are Unix milliseconds; JSON is TEXT on both engines.
public enum ModerationMigrations {
    public static let group = MigrationGroup(context: "moderation", migrations: [
        Migration(1, "create audit, blocks, sanctions, strikes, cases, reports, held, appeals, rate overrides") { engine in
            [
                """
                CREATE TABLE moderation_audit (
                    position \(engine.autoIncrementPrimaryKey),
                    id TEXT NOT NULL UNIQUE,
                    at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    details TEXT NOT NULL
                )
                """,
                "CREATE INDEX moderation_audit_subject ON moderation_audit (subject, position)",
                "CREATE INDEX moderation_audit_actor ON moderation_audit (actor, position)",
                """
                CREATE TABLE moderation_blocks (
                    blocker TEXT NOT NULL,
                    blocked TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (blocker, blocked)
                )
                """,
                "CREATE INDEX moderation_blocks_blocked ON moderation_blocks (blocked, blocker)",
                """
                CREATE TABLE moderation_sanctions (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    ends_at BIGINT,
                    lifted_at BIGINT,
                    lifted_by TEXT,
                    lift_reason TEXT,
                    case_id TEXT,
                    strike_id TEXT
                )
                """,
                "CREATE INDEX moderation_sanctions_user ON moderation_sanctions (user_id, id)",
                """
                CREATE TABLE moderation_strikes (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    case_id TEXT,
                    sanction_id TEXT,
                    created_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    voided_at BIGINT
                )
                """,
                "CREATE INDEX moderation_strikes_user ON moderation_strikes (user_id, created_at)",
                """
                CREATE TABLE moderation_cases (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    subject_kind TEXT NOT NULL,
                    subject_id TEXT NOT NULL,
                    conversation_id TEXT,
                    subject_user TEXT,
                    state TEXT NOT NULL,
                    report_count BIGINT NOT NULL,
                    hold_count BIGINT NOT NULL,
                    flag_count BIGINT NOT NULL,
                    reasons TEXT NOT NULL,
                    opened_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    resolved_at BIGINT,
                    resolved_by TEXT,
                    resolution TEXT,
                    resolution_reason TEXT
                )
                """,
                // At most one open case per subject: concurrent signals merge instead of opening two.
                "CREATE UNIQUE INDEX moderation_cases_open_subject ON moderation_cases (subject) WHERE state = 'open'",
                "CREATE INDEX moderation_cases_state ON moderation_cases (state, id)",
                """
                CREATE TABLE moderation_reports (
                    id TEXT PRIMARY KEY,
                    reporter TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    category TEXT NOT NULL,
                    text TEXT NOT NULL,
                    case_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX moderation_reports_once ON moderation_reports (case_id, reporter)",
                """
                CREATE TABLE moderation_held (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    context TEXT NOT NULL,
                    body TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    state TEXT NOT NULL,
                    case_id TEXT,
                    created_at BIGINT NOT NULL,
                    decided_at BIGINT,
                    decided_by TEXT,
                    published_ref TEXT
                )
                """,
                "CREATE INDEX moderation_held_state ON moderation_held (state, id)",
                "CREATE INDEX moderation_held_case ON moderation_held (case_id)",
                """
                CREATE TABLE moderation_appeals (
                    id TEXT PRIMARY KEY,
                    strike_id TEXT NOT NULL UNIQUE,
                    user_id TEXT NOT NULL,
                    text TEXT NOT NULL,
                    state TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    decided_at BIGINT,
                    decided_by TEXT,
                    decision_reason TEXT
                )
                """,
                "CREATE INDEX moderation_appeals_state ON moderation_appeals (state, id)",
                """
                CREATE TABLE moderation_rate_overrides (
                    action TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    target TEXT NOT NULL,
                    count BIGINT NOT NULL,
                    period_ms BIGINT NOT NULL,
                    burst BIGINT NOT NULL,
                    updated_by TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (action, scope, target)
                )
                """,
            ]
        },
        Migration(2, "create sensitive-word dictionaries") { _ in
            [
                """
                CREATE TABLE moderation_filter_words (
                    scope TEXT NOT NULL,
                    word TEXT NOT NULL,
                    category TEXT NOT NULL,
                    severity BIGINT NOT NULL,
                    action TEXT NOT NULL,
                    replacement TEXT,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (scope, word)
                )
                """,
            ]
        },
        Migration(3, "sanctions may be scoped to one conversation") { _ in
            [
                "ALTER TABLE moderation_sanctions ADD COLUMN conversation_id TEXT",
            ]
        },
        // SQLite is one process: its rate limits stay in memory.
        Migration(4, "share rate-limit arrival times across nodes") { engine in
            engine == .postgres ? SharedRateCells.schema : []
        },
        Migration(5, "check a batch of rate-limited requests in one round trip") { engine in
            engine == .postgres ? SharedRateCells.batchSchema : []
        },
        // SQLite is one process: its flood windows stay in memory.
        Migration(6, "share flood and duplicate detection across nodes") { engine in
            engine == .postgres ? SharedFloodMarks.schema : []
        },
    ])
}
