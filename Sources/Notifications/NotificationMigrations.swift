import ParleyStorage

extension NotificationService {
    /// The Notifications context's tables. Rows name users by id only; Identity's tables are never read.
    public static let migrations = MigrationGroup(context: "notifications", migrations: [
        Migration(1, "create notifications, inbox, deliveries, templates, preferences, topics, digests") { _ in
            [
                """
                CREATE TABLE notifications_templates (
                    template_key TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    locale TEXT NOT NULL,
                    fields TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (template_key, channel, locale)
                )
                """,
                """
                CREATE TABLE notifications_categories (
                    id TEXT PRIMARY KEY,
                    description TEXT NOT NULL,
                    mandatory BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE notifications_notifications (
                    id TEXT PRIMARY KEY,
                    template_key TEXT NOT NULL,
                    category TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    recipients TEXT NOT NULL,
                    data TEXT NOT NULL,
                    rendered TEXT NOT NULL,
                    state TEXT NOT NULL,
                    recipient_count BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    send_at BIGINT,
                    digest_id TEXT,
                    digest_count BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE notifications_inbox (
                    user_id TEXT NOT NULL,
                    notification_id TEXT NOT NULL,
                    category TEXT NOT NULL,
                    visible_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    seen_at BIGINT,
                    read_at BIGINT,
                    archived_at BIGINT,
                    clicked_at BIGINT,
                    snoozed_until BIGINT,
                    PRIMARY KEY (user_id, notification_id)
                )
                """,
                "CREATE INDEX notifications_inbox_order ON notifications_inbox (user_id, visible_at, notification_id)",
                "CREATE INDEX notifications_inbox_by_notification ON notifications_inbox (notification_id)",
                """
                CREATE TABLE notifications_deliveries (
                    notification_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    state TEXT NOT NULL,
                    reason TEXT,
                    attempts BIGINT NOT NULL,
                    deferred_until BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (notification_id, user_id, channel)
                )
                """,
                """
                CREATE TABLE notifications_user_settings (
                    user_id TEXT PRIMARY KEY,
                    locale TEXT,
                    time_zone TEXT,
                    quiet_start BIGINT,
                    quiet_end BIGINT,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE notifications_preferences (
                    user_id TEXT NOT NULL,
                    category TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    enabled BOOLEAN NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (user_id, category, channel)
                )
                """,
                """
                CREATE TABLE notifications_topic_subscriptions (
                    topic TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (topic, user_id)
                )
                """,
                "CREATE INDEX notifications_topics_by_user ON notifications_topic_subscriptions (user_id, topic)",
                """
                CREATE TABLE notifications_idempotency (
                    scope TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    request_hash TEXT NOT NULL,
                    response TEXT,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (scope, idempotency_key)
                )
                """,
                """
                CREATE TABLE notifications_dedup (
                    dedup_key TEXT PRIMARY KEY,
                    notification_id TEXT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE notifications_digests (
                    id TEXT PRIMARY KEY,
                    open_key TEXT UNIQUE,
                    template_key TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    digest_key TEXT NOT NULL,
                    category TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    window_end BIGINT NOT NULL,
                    state TEXT NOT NULL,
                    notification_id TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE notifications_digest_events (
                    digest_id TEXT NOT NULL,
                    trigger_id TEXT NOT NULL,
                    data TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (digest_id, trigger_id)
                )
                """,
                """
                CREATE TABLE notifications_channel_configs (
                    channel TEXT PRIMARY KEY,
                    config TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                INSERT INTO notifications_categories (id, description, mandatory, created_at, updated_at)
                VALUES ('general', 'Notifications without a more specific category.', FALSE, 0, 0)
                """,
            ]
        },
        Migration(2, "create push devices, email addresses and automatic-push state") { _ in
            [
                """
                CREATE TABLE notifications_push_devices (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    token TEXT NOT NULL,
                    p256dh TEXT,
                    auth TEXT,
                    app_id TEXT,
                    sandbox BOOLEAN NOT NULL,
                    locale TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    UNIQUE (platform, token)
                )
                """,
                "CREATE INDEX notifications_push_devices_by_user ON notifications_push_devices (user_id, created_at)",
                """
                CREATE TABLE notifications_email_addresses (
                    user_id TEXT PRIMARY KEY,
                    address TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE notifications_auto_push (
                    user_id TEXT NOT NULL,
                    conversation_id TEXT NOT NULL,
                    pushed_seq BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (user_id, conversation_id)
                )
                """,
                "CREATE INDEX notifications_idempotency_by_age ON notifications_idempotency (created_at)",
                "CREATE INDEX notifications_dedup_by_expiry ON notifications_dedup (expires_at)",
                // Users turn automatic message pushes off per channel with this category.
                """
                INSERT INTO notifications_categories (id, description, mandatory, created_at, updated_at)
                VALUES ('messages', 'Pushes for chat messages while you are away.', FALSE, 0, 0)
                ON CONFLICT (id) DO NOTHING
                """,
            ]
        },
        Migration(3, "the account category and the templates of Parley's own notices") { _ in
            [
                """
                INSERT INTO notifications_categories (id, description, mandatory, created_at, updated_at)
                VALUES ('account', 'Notices about your account (moderation decisions). They cannot be turned off.', TRUE, 0, 0)
                ON CONFLICT (id) DO NOTHING
                """,
                // Admins may rewrite these like any template; the variables are status, until_text and reason.
                """
                INSERT INTO notifications_templates (template_key, channel, locale, fields, created_at, updated_at)
                VALUES ('parley.sanction', 'in_app', 'en',
                    '{"body":"You have been {{status}} {{until_text}}. Reason: {{reason}}. You may appeal this decision.","title":"You have been {{status}}"}',
                    0, 0)
                ON CONFLICT (template_key, channel, locale) DO NOTHING
                """,
            ]
        },
        // The housekeeper deletes marks not touched for 30 days; without this it read the whole table in SQLite's
        // write transaction.
        Migration(4, "index automatic-push marks by age") { _ in
            ["CREATE INDEX notifications_auto_push_by_age ON notifications_auto_push (updated_at)"]
        },
    ])
}
