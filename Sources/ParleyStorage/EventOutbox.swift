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

    /// PostgreSQL: what `append` does, as `WITH` clauses for a statement of the caller's, so that a change and its
    /// events take one round trip. With `onlyIf`, nothing is appended unless that clause yields a row. Call
    /// `appended` once the statement has run and appended.
    func appendClauses(_ events: [NewEvent], onlyIf condition: String?) -> EventAppendClauses

    /// The bookkeeping `append` does after its statement, for a caller that ran `appendClauses`.
    func appended(_ events: [NewEvent])
}

/// The events of a change, written by the change's own statement (see `EventOutbox.appendClauses`).
public struct EventAppendClauses: Sendable {
    /// `name AS (...)` definitions, comma-separated, to follow the caller's own in its `WITH` list.
    public var definitions: BulkSQL
    /// A clause the caller's main query may read: it yields one row when the events were appended (a conditional
    /// append may not be). The name is historical: it sent the NOTIFY before events were placed after commit.
    public var notified: String

    public init(definitions: BulkSQL, notified: String) {
        self.definitions = definitions
        self.notified = notified
    }
}

extension EventOutbox {
    public func appendClauses(_ events: [NewEvent]) -> EventAppendClauses {
        appendClauses(events, onlyIf: nil)
    }

    public func append(_ event: NewEvent, on sql: any SQLDatabase) async throws {
        try await append([event], on: sql)
    }
}
