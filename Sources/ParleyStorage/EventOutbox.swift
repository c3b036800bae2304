import Foundation
import ParleyCore
import SQLKit

/// An event a context is about to commit, before the log has given it a position.
public struct NewEvent: Sendable, Equatable {
    public var type: String
    public var actor: String
    public var subject: String
    /// The payload as the log stores it: JSON text (an object), as `JSONValue.jsonString()` writes it.
    public var payloadText: String
    public var occurredAt: Date

    public init(type: String, actor: String, subject: String, payload: JSONValue, occurredAt: Date) {
        self.init(type: type, actor: actor, subject: subject, payloadText: payload.jsonString(), occurredAt: occurredAt)
    }

    /// For a context that writes its payload's JSON itself (one per message sent: see Messaging's event writer).
    public init(type: String, actor: String, subject: String, payloadText: String, occurredAt: Date) {
        self.type = type
        self.actor = actor
        self.subject = subject
        self.payloadText = payloadText
        self.occurredAt = occurredAt
    }
}

/// The transactional outbox: how a context records its events in the same transaction as its change.
///
/// The Events context implements it over its own table; other contexts receive it from the composition
/// root and call `append` with the connection of the transaction they are in, so the event is committed
/// exactly when the change is. `append` never commits or opens a transaction itself.
public protocol EventOutbox: Sendable {
    func append(_ events: [NewEvent], on sql: any SQLDatabase) async throws
}

extension EventOutbox {
    public func append(_ event: NewEvent, on sql: any SQLDatabase) async throws {
        try await append([event], on: sql)
    }
}
