import Events
import ParleyCore

/// The documented routes of the events admin API (`EventsAdminController`): the event log and its
/// consumers, jobs, and webhooks. Every route needs an API key of scope admin.
extension OpenAPIBuilder {
    public mutating func addEventsAdmin() {
        let page: [(name: String, type: String, description: String)] = [
            ("limit", "integer", "1 to 200, default 50"), ("cursor", "string", "next_cursor of the previous page"),
        ]
        func op(
            _ method: String, _ path: String, _ summary: String, tag: String, request: String? = nil,
            query: [(name: String, type: String, description: String)] = [], _ responses: [(Int, String, String?)]
        ) -> OpenAPIOperation {
            OpenAPIOperation(method, path, tag: tag, summary: summary + " (API key, scope admin)", security: .apiKey, request: request,
                             query: query, responses: responses.map { (status: $0.0, description: $0.1, schema: $0.2) })
        }
        let job = "/v1/admin/jobs/{job_id}"
        let endpoint = "/v1/admin/webhooks/{endpoint_id}"
        add([
            op("GET", "/v1/admin/events", "Events from the log, oldest first, after a position.", tag: "events",
               query: [
                   ("after", "integer", "start after this log position (default 0, the beginning)"),
                   ("type", "string", "only these event types, comma-separated"),
               ] + page, [(200, "A page of events", "EventPage")]),
            op("GET", "/v1/admin/events/types", "The catalog of event types, with what each means.", tag: "events",
               [(200, "The event types", "EventTypeList")]),
            op("GET", "/v1/admin/consumers", "Every event consumer's durable cursor and how far it trails the log.", tag: "events",
               [(200, "The consumers", "ConsumerList")]),
            op("GET", "/v1/admin/jobs", "Jobs, newest first, optionally of one state and kind.", tag: "jobs",
               query: [
                   ("state", "string", "available, running, completed, dead or discarded"), ("kind", "string", "e.g. webhook.deliver"),
               ] + page, [(200, "A page of jobs", "JobPage")]),
            op("GET", "/v1/admin/jobs/stats", "How many jobs are in each state.", tag: "jobs", [(200, "The counts", "JobStats")]),
            op("GET", job, "One job.", tag: "jobs", [(200, "The job", "Job")]),
            op("POST", "\(job)/retry", "Run a job again from scratch (attempts reset); refused while it runs.", tag: "jobs",
               [(200, "The job, available again", "Job")]),
            op("POST", "\(job)/discard", "Take a waiting, running or dead job out of the queue for good.", tag: "jobs",
               [(200, "The discarded job", "Job")]),
            op("POST", "/v1/admin/webhooks", "Register a webhook endpoint; its signing secret is returned here only.", tag: "webhooks",
               request: "WebhookCreate", [(201, "The endpoint, with its secret", "WebhookEndpoint")]),
            op("GET", "/v1/admin/webhooks", "Every webhook endpoint (without secrets).", tag: "webhooks",
               [(200, "The endpoints", "WebhookEndpointList")]),
            op("GET", endpoint, "One webhook endpoint.", tag: "webhooks", [(200, "The endpoint", "WebhookEndpoint")]),
            op("PATCH", endpoint, "Change an endpoint; enabling it again clears its failure count.", tag: "webhooks",
               request: "WebhookUpdate", [(200, "The endpoint", "WebhookEndpoint")]),
            op("DELETE", endpoint, "Delete an endpoint; its pending deliveries are skipped.", tag: "webhooks",
               [(204, "Deleted", nil)]),
            op("GET", "\(endpoint)/deliveries", "An endpoint's deliveries, newest first.", tag: "webhooks",
               query: [("state", "string", "pending, succeeded, retrying, dead or skipped")] + page,
               [(200, "A page of deliveries", "WebhookDeliveryPage")]),
            op("POST", "/v1/admin/webhooks/deliveries/{delivery_id}/replay", "Send one delivery again, from a fresh set of attempts.",
               tag: "webhooks", [(200, "The delivery, pending again", "WebhookDelivery")]),
            op("POST", "\(endpoint)/replay", "Redeliver every event of a time range that the endpoint subscribes to.", tag: "webhooks",
               request: "WebhookReplay", [(200, "How many deliveries were queued", "WebhookReplayResult")]),
        ], schemas: Self.eventsSchemas)
    }

    static var eventsSchemas: [String: JSONValue] {
        let nullableInteger: JSONValue = .object(["type": .array(["integer", "null"])])
        let eventTypes: JSONValue = .object([
            "type": "array",
            "items": .object(["type": "string"]),
            "description": .string("Known event types, or `prefix.*` patterns (`message.*`); empty or absent means every type."),
        ])
        return [
            "Event": Schema.object([
                "position": Schema.integer, "id": Schema.string, "type": Schema.string, "occurred_at": Schema.timestamp,
                "actor": Schema.string, "subject": Schema.string, "payload": Schema.anyValue,
            ], required: ["position", "id", "type", "occurred_at", "actor", "subject", "payload"]),
            "EventPage": Schema.object(["items": Schema.array(Schema.ref("Event")), "next_cursor": Schema.nullableString],
                                       required: ["items", "next_cursor"]),
            "EventTypeList": Schema.object([
                "items": Schema.array(Schema.object([
                    "type": Schema.enumeration(EventCatalog.entries.map(\.type)), "description": Schema.string,
                ], required: ["type", "description"])),
            ], required: ["items"]),
            "ConsumerList": Schema.object([
                "items": Schema.array(Schema.object([
                    "name": Schema.string, "position": Schema.integer, "lag": Schema.integer, "updated_at": Schema.timestamp,
                ], required: ["name", "position", "lag", "updated_at"])),
                "head_position": Schema.integer,
            ], required: ["items", "head_position"]),
            "Job": Schema.object([
                "id": Schema.string, "kind": Schema.string, "state": Schema.enumeration(Job.State.allCases.map(\.rawValue)),
                "payload": Schema.anyValue, "priority": Schema.integer, "run_at": Schema.timestamp, "attempt": Schema.integer,
                "max_attempts": Schema.integer, "unique_key": Schema.nullableString, "locked_by": Schema.nullableString,
                "locked_until": Schema.nullableString, "last_error": Schema.nullableString, "created_at": Schema.timestamp,
                "updated_at": Schema.timestamp, "completed_at": Schema.nullableString,
            ], required: ["id", "kind", "state", "payload", "run_at", "attempt", "max_attempts", "created_at", "updated_at"]),
            "JobPage": Schema.object(["items": Schema.array(Schema.ref("Job")), "next_cursor": Schema.nullableString],
                                     required: ["items", "next_cursor"]),
            "JobStats": Schema.object([
                "counts": Schema.object(Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0.rawValue, Schema.integer) }),
                                        required: Job.State.allCases.map(\.rawValue)),
                "total": Schema.integer,
            ], required: ["counts", "total"]),
            "WebhookCreate": Schema.object([
                "url": Schema.string, "description": Schema.string, "event_types": eventTypes,
                "secret": .object(["type": "string", "description": "16 to 256 bytes; generated when absent."]),
            ], required: ["url"]),
            "WebhookUpdate": Schema.object([
                "url": Schema.string, "description": Schema.string, "event_types": eventTypes, "enabled": Schema.boolean,
            ]),
            "WebhookEndpoint": Schema.object([
                "id": Schema.string, "url": Schema.string, "description": Schema.string, "event_types": Schema.array(Schema.string),
                "enabled": Schema.boolean, "consecutive_failures": Schema.integer, "disabled_reason": Schema.nullableString,
                "created_at": Schema.timestamp, "updated_at": Schema.timestamp,
                "secret": .object(["type": "string", "description": "Only in the answer to creating the endpoint."]),
            ], required: ["id", "url", "description", "event_types", "enabled", "consecutive_failures", "disabled_reason", "created_at"]),
            "WebhookEndpointList": Schema.object(["items": Schema.array(Schema.ref("WebhookEndpoint"))], required: ["items"]),
            "WebhookDelivery": Schema.object([
                "id": Schema.string, "endpoint_id": Schema.string, "event_id": Schema.string, "event_type": Schema.string,
                "event_position": Schema.integer, "state": Schema.enumeration(WebhookDelivery.State.allCases.map(\.rawValue)),
                "attempts": Schema.integer, "last_status": nullableInteger, "last_error": Schema.nullableString,
                "last_attempt_at": Schema.nullableString, "created_at": Schema.timestamp,
            ], required: ["id", "endpoint_id", "event_id", "event_type", "state", "attempts", "last_status", "last_error", "created_at"]),
            "WebhookDeliveryPage": Schema.object([
                "items": Schema.array(Schema.ref("WebhookDelivery")), "next_cursor": Schema.nullableString,
            ], required: ["items", "next_cursor"]),
            "WebhookReplay": Schema.object(["from": Schema.timestamp, "to": Schema.timestamp], required: ["from", "to"]),
            "WebhookReplayResult": Schema.object(["queued": Schema.integer], required: ["queued"]),
        ]
    }
}
