import Foundation
import ParleyCore

/// One line of the append-only audit log: who did what to what, why, and when.
///
/// `actor` is a principal label (`user:mod1`, `key:k_1`) or `system:moderation` for automated actions;
/// `subject` names what was acted on (`user:alice`, `message:m_1`, `case:mc_1`, `held:mh_1`, ...).
public struct AuditEntry: Sendable, Equatable {
    /// The log's own order (ascending with time of recording); cursors page by it.
    public var position: Int64
    public var id: String
    public var actor: String
    public var action: String
    public var subject: String
    public var reason: String
    public var details: [String: JSONValue]
    public var at: Date

    public init(position: Int64 = 0, id: String, actor: String, action: String, subject: String, reason: String,
                details: [String: JSONValue] = [:], at: Date) {
        self.position = position
        self.id = id
        self.actor = actor
        self.action = action
        self.subject = subject
        self.reason = reason
        self.details = details
        self.at = at
    }
}

/// The audit label of automated moderation (filters, flood checks, strike rules).
public let automatedActor = "system:moderation"
