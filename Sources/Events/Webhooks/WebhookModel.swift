import Foundation
import ParleyCore

/// A URL the platform registered to receive events.
public struct WebhookEndpoint: Sendable, Equatable {
    public var id: String
    public var url: String
    public var description: String
    /// Event types delivered; empty means every type. A type ending in `.*` matches a prefix (`message.*`).
    public var eventTypes: [String]
    public var secret: String
    public var enabled: Bool
    public var consecutiveFailures: Int
    public var disabledReason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public func wants(_ type: String) -> Bool {
        eventTypes.isEmpty || eventTypes.contains { pattern in
            pattern == type || (pattern.hasSuffix(".*") && type.hasPrefix(String(pattern.dropLast(1))))
        }
    }
}

/// One event's delivery to one endpoint, with the outcome of its latest attempt.
public struct WebhookDelivery: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case pending, succeeded, retrying, dead, skipped
    }

    public var id: String
    public var endpointID: String
    public var eventID: String
    public var eventType: String
    public var eventPosition: Int64
    public var state: State
    public var attempts: Int
    public var lastStatus: Int?
    public var lastError: String?
    public var lastAttemptAt: Date?
    public var createdAt: Date
}

/// Tunables of webhook delivery.
public struct WebhookSettings: Sendable {
    /// Attempts per delivery before it is dead-lettered.
    public var maxAttempts = 10
    /// Consecutive failed attempts after which an endpoint is disabled.
    public var disableAfterFailures = 50
    public var timeout: Duration = .seconds(10)

    public init() {}
}

extension ParleyError {
    public static func webhookNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "webhooks.endpoint_not_found", message: "No webhook endpoint '\(id)'.", details: ["endpoint_id": .string(id)])
    }

    public static func deliveryNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "webhooks.delivery_not_found", message: "No webhook delivery '\(id)'.", details: ["delivery_id": .string(id)])
    }

    public static func deliveryInFlight(_ id: String) -> ParleyError {
        ParleyError(.conflict, code: "webhooks.delivery_in_flight", message: "Delivery '\(id)' is being attempted right now; replay it afterwards.",
                    details: ["delivery_id": .string(id)])
    }

    public static func endpointDisabled(_ id: String) -> ParleyError {
        ParleyError(.conflict, code: "webhooks.endpoint_disabled", message: "Webhook endpoint '\(id)' is disabled; enable it before replaying.",
                    details: ["endpoint_id": .string(id)])
    }
}
