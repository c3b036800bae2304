import Crypto
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// Webhook endpoints, their deliveries, and the admin operations on them (replay, re-enable).
///
/// Deliveries are created by `WebhookFanout` (an event consumer) and carried out by
/// `WebhookDeliveryHandler` (a job handler), so every committed event reaches every subscribed endpoint
/// at least once, with retries, backoff and dead letters from the job queue.
public struct WebhookService: Sendable {
    public static let jobKind = "webhook.deliver"

    let database: Database
    let jobs: JobQueue
    let ids: any IDGenerator
    let clock: any WallClock
    public let settings: WebhookSettings

    public init(database: Database, jobs: JobQueue, ids: any IDGenerator, clock: any WallClock, settings: WebhookSettings = WebhookSettings()) {
        self.database = database
        self.jobs = jobs
        self.ids = ids
        self.clock = clock
        self.settings = settings
    }

    public static let migrations = MigrationGroup(context: "webhooks", migrations: [
        Migration(1, "create webhook endpoints and deliveries") { _ in
            [
                """
                CREATE TABLE events_webhook_endpoints (
                    id TEXT PRIMARY KEY,
                    url TEXT NOT NULL,
                    description TEXT NOT NULL,
                    event_types TEXT NOT NULL,
                    secret TEXT NOT NULL,
                    enabled BOOLEAN NOT NULL,
                    consecutive_failures BIGINT NOT NULL,
                    disabled_reason TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE events_webhook_deliveries (
                    id TEXT PRIMARY KEY,
                    endpoint_id TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    event_position BIGINT NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL,
                    last_status BIGINT,
                    last_error TEXT,
                    last_attempt_at BIGINT,
                    created_at BIGINT NOT NULL,
                    UNIQUE (endpoint_id, event_id)
                )
                """,
                "CREATE INDEX events_webhook_deliveries_by_endpoint ON events_webhook_deliveries (endpoint_id, id)",
            ]
        },
        // Retention finds finished deliveries by state and age (`EventsRetention`) without reading the others.
        Migration(2, "index webhook deliveries by state and age") { _ in
            ["CREATE INDEX events_webhook_deliveries_by_state_age ON events_webhook_deliveries (state, created_at)"]
        },
    ])

    // MARK: Endpoints

    /// Registers an endpoint. Without a secret one is generated; either way it is returned once, here.
    public func create(url: String, description: String, eventTypes: [String], secret: String?) async throws -> WebhookEndpoint {
        try Self.validate(url: url, description: description, eventTypes: eventTypes)
        if let secret, secret.utf8.count < 16 || secret.utf8.count > 256 {
            throw ParleyError.invalidField("secret", "16 to 256 bytes")
        }
        let now = clock.now()
        let endpoint = WebhookEndpoint(
            id: ids.next(prefix: "wh_"), url: url, description: description, eventTypes: eventTypes,
            secret: secret ?? "whsec_" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64URLEncodedString(),
            enabled: true, consecutiveFailures: 0, disabledReason: nil, createdAt: now, updatedAt: now
        )
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO events_webhook_endpoints (id, url, description, event_types, secret, enabled, consecutive_failures, created_at, updated_at)
                VALUES (\(bind: endpoint.id), \(bind: url), \(bind: description), \(bind: try Self.typesText(eventTypes)), \(bind: endpoint.secret),
                    \(bind: true), 0, \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds))
                """).run()
        }
        return endpoint
    }

    static func validate(url: String, description: String, eventTypes: [String]) throws(ParleyError) {
        guard url.utf8.count <= 2048, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
              parsed.host != nil else { throw ParleyError.invalidField("url", "an absolute http(s) URL") }
        guard description.count <= 500 else { throw ParleyError.fieldTooLong("description", limit: 500) }
        guard eventTypes.count <= 100 else { throw ParleyError.invalidField("event_types", "at most 100") }
        for type in eventTypes where !EventCatalog.isKnown(pattern: type) {
            throw ParleyError.invalidField("event_types", "'\(type)' is not a known event type or a `prefix.*` pattern of one")
        }
    }

    static func typesText(_ types: [String]) throws -> String {
        try JSONValue.array(types.map { .string($0) }).jsonText()
    }

    public func endpoint(_ id: String) async throws -> WebhookEndpoint {
        guard let row = try await database.sql.raw("SELECT * FROM events_webhook_endpoints WHERE id = \(bind: id)").first() else {
            throw ParleyError.webhookNotFound(id)
        }
        return try Self.decodeEndpoint(row)
    }

    public func endpoints() async throws -> [WebhookEndpoint] {
        try await database.sql.raw("SELECT * FROM events_webhook_endpoints ORDER BY id").all().map(Self.decodeEndpoint)
    }

    /// Changes an endpoint; enabling it again also clears its failure count.
    public func update(_ id: String, url: String?, description: String?, eventTypes: [String]?, enabled: Bool?) async throws -> WebhookEndpoint {
        var endpoint = try await self.endpoint(id)
        endpoint.url = url ?? endpoint.url
        endpoint.description = description ?? endpoint.description
        endpoint.eventTypes = eventTypes ?? endpoint.eventTypes
        try Self.validate(url: endpoint.url, description: endpoint.description, eventTypes: endpoint.eventTypes)
        if let enabled {
            if enabled && !endpoint.enabled {
                endpoint.consecutiveFailures = 0
                endpoint.disabledReason = nil
            }
            endpoint.enabled = enabled
            if !enabled { endpoint.disabledReason = endpoint.disabledReason ?? "disabled by an operator" }
        }
        let now = clock.now()
        let updated = endpoint
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE events_webhook_endpoints SET url = \(bind: updated.url), description = \(bind: updated.description),
                    event_types = \(bind: try Self.typesText(updated.eventTypes)), enabled = \(bind: updated.enabled),
                    consecutive_failures = \(bind: updated.consecutiveFailures), disabled_reason = \(bind: updated.disabledReason),
                    updated_at = \(bind: now.unixMilliseconds)
                WHERE id = \(bind: id)
                """).run()
        }
        endpoint.updatedAt = now
        return endpoint
    }

    public func delete(_ id: String) async throws {
        _ = try await endpoint(id)
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM events_webhook_endpoints WHERE id = \(bind: id)").run()
        }
    }

    // MARK: Deliveries

    /// Creates the deliveries of `events` to every enabled endpoint that wants them, with their jobs, in
    /// the caller's transaction. A (endpoint, event) pair is delivered once however often this runs.
    func enabledEndpoints(on sql: (any SQLDatabase)? = nil) async throws -> [WebhookEndpoint] {
        try await (sql ?? database.sql).raw("SELECT * FROM events_webhook_endpoints WHERE enabled = \(bind: true)").all().map(Self.decodeEndpoint)
    }

    func fanOut(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws {
        let endpoints = try await enabledEndpoints(on: sql)
        guard !endpoints.isEmpty else { return }
        for event in events {
            for endpoint in endpoints where endpoint.wants(event.type) {
                try await createDelivery(endpoint: endpoint.id, event: event, on: sql)
            }
        }
    }

    func createDelivery(endpoint: String, event: EventEnvelope, on sql: any SQLDatabase) async throws {
        let id = ids.next(prefix: "whd_")
        let rows = try await sql.raw("""
            INSERT INTO events_webhook_deliveries (id, endpoint_id, event_id, event_type, event_position, state, attempts, created_at)
            VALUES (\(bind: id), \(bind: endpoint), \(bind: event.id), \(bind: event.type), \(bind: event.position), 'pending', 0,
                \(bind: clock.now().unixMilliseconds))
            ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id
            """).all()
        guard !rows.isEmpty else { return }
        try await jobs.enqueue([NewJob(kind: Self.jobKind, payload: ["delivery_id": .string(id)], maxAttempts: settings.maxAttempts,
                                       uniqueKey: "webhook:\(id)")], on: sql)
    }

    public func delivery(_ id: String) async throws -> WebhookDelivery {
        guard let row = try await database.sql.raw("SELECT * FROM events_webhook_deliveries WHERE id = \(bind: id)").first() else {
            throw ParleyError.deliveryNotFound(id)
        }
        return try Self.decodeDelivery(row)
    }

    /// An endpoint's deliveries, newest first, with a cursor; optionally only one state.
    public func deliveries(endpoint: String, state: WebhookDelivery.State?, page: PageRequest) async throws -> Page<WebhookDelivery> {
        _ = try await self.endpoint(endpoint)
        var conditions: [SQLQueryString] = ["endpoint_id = \(bind: endpoint)"]
        if let state { conditions.append("state = \(bind: state.rawValue)") }
        if let cursor = page.cursor { conditions.append("id < \(bind: try Cursor.decode(cursor))") }
        let rows = try await database.sql.raw("""
            SELECT * FROM events_webhook_deliveries WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(bind: page.limit + 1)
            """).all().map(Self.decodeDelivery)
        return Page(fetched: rows, limit: page.limit, position: \.id)
    }

    /// Sends one delivery again, from a fresh set of attempts, whatever its state. Refused while an attempt
    /// is in flight (`webhooks.delivery_in_flight`) and while its endpoint is disabled (`webhooks.endpoint_disabled`).
    public func replay(delivery id: String) async throws -> WebhookDelivery {
        let current = try await delivery(id)
        if let endpoint = try? await endpoint(current.endpointID), !endpoint.enabled { throw ParleyError.endpointDisabled(endpoint.id) }
        if try await jobs.job(uniqueKey: "webhook:\(id)")?.state == .running { throw ParleyError.deliveryInFlight(id) }
        try await database.transaction { sql in
            try await sql.raw("UPDATE events_webhook_deliveries SET state = 'pending', attempts = 0 WHERE id = \(bind: id)").run()
        }
        if let job = try await jobs.job(uniqueKey: "webhook:\(id)") {
            _ = try await jobs.retry(job.id)
        } else {
            try await jobs.enqueue([NewJob(kind: Self.jobKind, payload: ["delivery_id": .string(id)], maxAttempts: settings.maxAttempts,
                                           uniqueKey: "webhook:\(id)")])
        }
        return try await delivery(id)
    }

    /// Redelivers every event of a time range that the endpoint wants (creating deliveries it never had,
    /// e.g. from before it subscribed). Returns how many deliveries were queued (one in flight counts: it is
    /// being sent). At most 10,000 events; refused while the endpoint is disabled.
    public func replay(endpoint id: String, from: Date, to: Date) async throws -> Int {
        guard from <= to else { throw ParleyError.invalidField("from", "must not be after 'to'") }
        let endpoint = try await self.endpoint(id)
        guard endpoint.enabled else { throw ParleyError.endpointDisabled(id) }
        // Events still waiting for their position (PostgreSQL, just committed) reach the endpoint through the fan-out.
        let rows = try await database.sql.raw("""
            SELECT * FROM events_log WHERE occurred_at >= \(bind: from.unixMilliseconds) AND occurred_at <= \(bind: to.unixMilliseconds)
                AND position IS NOT NULL
            ORDER BY position LIMIT 10001
            """).all()
        guard rows.count <= 10_000 else {
            throw ParleyError(.unprocessable, code: "webhooks.replay_too_large", message: "More than 10,000 events in that range; narrow it.")
        }
        var count = 0
        for row in rows {
            let event = try EventLog.decode(row)
            guard endpoint.wants(event.type) else { continue }
            let existing = try await database.sql.raw("""
                SELECT id FROM events_webhook_deliveries WHERE endpoint_id = \(bind: id) AND event_id = \(bind: event.id)
                """).first()?.decode(column: "id", as: String.self)
            if let existing {
                do {
                    _ = try await replay(delivery: existing)
                } catch let error as ParleyError where error.code == ParleyError.deliveryInFlight(existing).code {
                    // Being sent right now: nothing to queue.
                }
            } else {
                try await database.transaction { sql in try await createDelivery(endpoint: id, event: event, on: sql) }
            }
            count += 1
        }
        return count
    }

    // MARK: Recording attempts

    func recordAttempt(_ deliveryID: String, endpointID: String, succeeded: Bool, status: Int?, error: String?, final: Bool) async throws {
        let now = clock.now().unixMilliseconds
        let state: WebhookDelivery.State = succeeded ? .succeeded : (final ? .dead : .retrying)
        let threshold = settings.disableAfterFailures
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE events_webhook_deliveries SET state = \(bind: state.rawValue), attempts = attempts + 1, last_status = \(bind: status),
                    last_error = \(bind: error.map { String($0.prefix(1000)) }), last_attempt_at = \(bind: now)
                WHERE id = \(bind: deliveryID)
                """).run()
            if succeeded {
                try await sql.raw("UPDATE events_webhook_endpoints SET consecutive_failures = 0 WHERE id = \(bind: endpointID)").run()
            } else {
                try await sql.raw("""
                    UPDATE events_webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
                        enabled = CASE WHEN consecutive_failures + 1 >= \(bind: threshold) THEN \(bind: false) ELSE enabled END,
                        disabled_reason = CASE WHEN consecutive_failures + 1 >= \(bind: threshold)
                            THEN \(bind: "disabled after \(threshold) consecutive failed attempts") ELSE disabled_reason END
                    WHERE id = \(bind: endpointID)
                    """).run()
            }
        }
    }

    func markSkipped(_ deliveryID: String, reason: String) async throws {
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE events_webhook_deliveries SET state = 'skipped', last_error = \(bind: reason) WHERE id = \(bind: deliveryID)
                """).run()
        }
    }

    func event(id: String) async throws -> EventEnvelope? {
        // An event still waiting for its position (PostgreSQL, just committed) has not reached the fan-out yet.
        try await database.sql.raw("SELECT * FROM events_log WHERE id = \(bind: id) AND position IS NOT NULL").first().map(EventLog.decode)
    }

    // MARK: Decoding

    static func decodeEndpoint(_ row: any SQLRow) throws -> WebhookEndpoint {
        var types: [String] = []
        if case .array(let values) = try row.decodeJSON("event_types") { types = values.compactMap(\.stringValue) }
        return WebhookEndpoint(
            id: try row.decode(column: "id", as: String.self),
            url: try row.decode(column: "url", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            eventTypes: types,
            secret: try row.decode(column: "secret", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            consecutiveFailures: try row.decode(column: "consecutive_failures", as: Int.self),
            disabledReason: try row.decodeOptional("disabled_reason", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            updatedAt: try row.decodeDate("updated_at")
        )
    }

    static func decodeDelivery(_ row: any SQLRow) throws -> WebhookDelivery {
        WebhookDelivery(
            id: try row.decode(column: "id", as: String.self),
            endpointID: try row.decode(column: "endpoint_id", as: String.self),
            eventID: try row.decode(column: "event_id", as: String.self),
            eventType: try row.decode(column: "event_type", as: String.self),
            eventPosition: try row.decode(column: "event_position", as: Int64.self),
            state: WebhookDelivery.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
            attempts: try row.decode(column: "attempts", as: Int.self),
            lastStatus: try row.decodeOptional("last_status", as: Int.self),
            lastError: try row.decodeOptional("last_error", as: String.self),
            lastAttemptAt: try row.decodeOptionalDate("last_attempt_at"),
            createdAt: try row.decodeDate("created_at")
        )
    }
}
