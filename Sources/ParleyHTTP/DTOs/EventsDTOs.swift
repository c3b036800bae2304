import Events
import Foundation
import ParleyCore

/// The wire shapes of the events admin API. Optional fields are written as `null`, never omitted.
enum EventsWire {
    static func event(_ event: EventEnvelope) -> JSONValue {
        .object([
            "position": .int(Int(event.position)),
            "id": .string(event.id),
            "type": .string(event.type),
            "occurred_at": .string(Timestamp.format(event.occurredAt)),
            "actor": .string(event.actor),
            "subject": .string(event.subject),
            "payload": event.payload,
        ])
    }

    static func job(_ job: Job) -> JSONValue {
        .object([
            "id": .string(job.id),
            "kind": .string(job.kind),
            "state": .string(job.state.rawValue),
            "payload": job.payload,
            "priority": .int(job.priority),
            "run_at": .string(Timestamp.format(job.runAt)),
            "attempt": .int(job.attempt),
            "max_attempts": .int(job.maxAttempts),
            "unique_key": optional(job.uniqueKey),
            "locked_by": optional(job.lockedBy),
            "locked_until": optional(job.lockedUntil),
            "last_error": optional(job.lastError),
            "created_at": .string(Timestamp.format(job.createdAt)),
            "updated_at": .string(Timestamp.format(job.updatedAt)),
            "completed_at": optional(job.completedAt),
        ])
    }

    /// An endpoint; its secret only when `includeSecret` (the answer to creating it).
    static func endpoint(_ endpoint: WebhookEndpoint, includeSecret: Bool = false) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(endpoint.id),
            "url": .string(endpoint.url),
            "description": .string(endpoint.description),
            "event_types": .array(endpoint.eventTypes.map { .string($0) }),
            "enabled": .bool(endpoint.enabled),
            "consecutive_failures": .int(endpoint.consecutiveFailures),
            "disabled_reason": optional(endpoint.disabledReason),
            "created_at": .string(Timestamp.format(endpoint.createdAt)),
            "updated_at": .string(Timestamp.format(endpoint.updatedAt)),
        ]
        if includeSecret { object["secret"] = .string(endpoint.secret) }
        return .object(object)
    }

    static func delivery(_ delivery: WebhookDelivery) -> JSONValue {
        .object([
            "id": .string(delivery.id),
            "endpoint_id": .string(delivery.endpointID),
            "event_id": .string(delivery.eventID),
            "event_type": .string(delivery.eventType),
            "event_position": .int(Int(delivery.eventPosition)),
            "state": .string(delivery.state.rawValue),
            "attempts": .int(delivery.attempts),
            "last_status": delivery.lastStatus.map { .int($0) } ?? .null,
            "last_error": optional(delivery.lastError),
            "last_attempt_at": optional(delivery.lastAttemptAt),
            "created_at": .string(Timestamp.format(delivery.createdAt)),
        ])
    }

    static func optional(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }

    static func optional(_ value: Date?) -> JSONValue {
        value.map { .string(Timestamp.format($0)) } ?? .null
    }
}
