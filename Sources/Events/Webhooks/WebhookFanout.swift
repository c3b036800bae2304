import Foundation
import ParleyCore
import SQLKit

/// The event consumer that turns committed events into webhook deliveries (and their jobs), in the
/// same transaction that moves its cursor.
public struct WebhookFanout: EventConsumer {
    public let name = "webhooks"
    public let types: Set<String>? = nil
    let webhooks: WebhookService

    public init(webhooks: WebhookService) {
        self.webhooks = webhooks
    }

    /// Only the types some enabled endpoint subscribes to are decoded (none when there is no endpoint). An
    /// endpoint enabled between this read and the batch's transaction starts with the next batch.
    public func interest() async throws -> EventInterest {
        let endpoints = try await webhooks.enabledEndpoints()
        if endpoints.isEmpty { return .nothing }
        return .only { type in endpoints.contains { $0.wants(type) } }
    }

    public func handle(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws {
        try await webhooks.fanOut(events, on: sql)
    }
}

/// The job handler that POSTs one delivery, signed, and records the outcome.
public struct WebhookDeliveryHandler: JobHandler {
    public let kind = WebhookService.jobKind
    let webhooks: WebhookService
    let http: any OutboundHTTP

    public init(webhooks: WebhookService, http: any OutboundHTTP) {
        self.webhooks = webhooks
        self.http = http
    }

    public var timeout: TimeInterval {
        let components = webhooks.settings.timeout.components
        return Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    public func run(_ job: Job) async throws {
        guard case .string(let deliveryID)? = job.payload["delivery_id"] else { throw PermanentJobFailure("no delivery_id") }
        let delivery = try await webhooks.delivery(deliveryID)
        guard let endpoint = try? await webhooks.endpoint(delivery.endpointID) else {
            try await webhooks.markSkipped(deliveryID, reason: "the endpoint was deleted")
            return
        }
        guard endpoint.enabled else {
            try await webhooks.markSkipped(deliveryID, reason: "the endpoint is disabled: \(endpoint.disabledReason ?? "")")
            return
        }
        guard let event = try await webhooks.event(id: delivery.eventID) else {
            try await webhooks.markSkipped(deliveryID, reason: "the event is no longer in the log")
            return
        }
        let body = try Self.body(for: event)
        let timestamp = Int(Date().timeIntervalSince1970)
        let request = OutboundRequest(url: endpoint.url, headers: [
            ("Content-Type", "application/json"),
            ("User-Agent", "Parley-Webhooks/1"),
            (WebhookSignature.header, WebhookSignature.sign(body: body, secret: endpoint.secret, timestamp: timestamp)),
            ("Parley-Webhook-Id", endpoint.id),
            ("Parley-Delivery-Id", delivery.id),
            ("Parley-Delivery-Attempt", String(job.attempt)),
            ("Parley-Event-Id", event.id),
            ("Parley-Event-Type", event.type),
        ], body: body, timeout: webhooks.settings.timeout)
        let final = job.attempt >= job.maxAttempts
        do {
            let response = try await http.send(request)
            guard (200..<300).contains(response.status) else {
                try await webhooks.recordAttempt(deliveryID, endpointID: endpoint.id, succeeded: false, status: response.status,
                                                 error: "HTTP \(response.status)", final: final)
                throw DeliveryFailed(description: "the endpoint answered HTTP \(response.status)")
            }
            try await webhooks.recordAttempt(deliveryID, endpointID: endpoint.id, succeeded: true, status: response.status, error: nil, final: final)
        } catch let failure as DeliveryFailed {
            throw failure
        } catch {
            try await webhooks.recordAttempt(deliveryID, endpointID: endpoint.id, succeeded: false, status: nil, error: "\(error)", final: final)
            throw DeliveryFailed(description: "\(error)")
        }
    }

    struct DeliveryFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// The JSON a receiver gets: the event's envelope with its payload under `data`.
    static func body(for event: EventEnvelope) throws -> Data {
        let value: JSONValue = [
            "id": .string(event.id), "type": .string(event.type), "occurred_at": .string(Timestamp.format(event.occurredAt)),
            "actor": .string(event.actor), "subject": .string(event.subject), "position": .int(Int(event.position)), "data": event.payload,
        ]
        return Data(try value.jsonText().utf8)
    }
}
