import Foundation

/// One state change, as the event log stores it and its consumers read it.
///
/// Every context writes its events in the same transaction as the change they describe (the
/// transactional outbox), so an event exists exactly when its change was committed.
public struct EventEnvelope: Sendable, Codable, Equatable {
    /// Position in the log, assigned on insert; strictly increasing in commit order on one database.
    public var position: Int64
    public var id: String
    /// A dotted type from the catalog, e.g. `message.created`, `user.updated`.
    public var type: String
    public var occurredAt: Date
    /// Who caused it, as `Principal.label` (`user:alice`, `key:k_..`, `system`).
    public var actor: String
    /// What it is about, e.g. `conversation:c_..`, `user:alice`.
    public var subject: String
    public var payload: JSONValue

    public init(position: Int64, id: String, type: String, occurredAt: Date, actor: String, subject: String, payload: JSONValue) {
        self.position = position
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.actor = actor
        self.subject = subject
        self.payload = payload
    }
}
