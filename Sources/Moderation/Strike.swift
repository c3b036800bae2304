import Foundation
import ParleyCore

/// One moderator action against a user (warning, removal, mute, suspension, ban): the unit a user appeals.
///
/// Strike rule: strikes that are not voided and are younger than `ModerationSettings.strikeMemory` (90 days)
/// are counted; every time the count reaches a multiple of `strikesForSuspension` (3) the user is suspended
/// automatically for `automaticSuspension` (one day), unless already suspended or banned. Granting an appeal
/// voids the strike (and lifts the sanction it came with).
public struct Strike: Sendable, Equatable {
    public var id: String
    public var userID: UserID
    /// The action that produced it (`warn`, `remove_content`, `mute`, `suspend`, `ban`).
    public var action: String
    public var reason: String
    public var caseID: String?
    public var sanctionID: String?
    public var createdBy: String
    public var createdAt: Date
    public var voidedAt: Date?

    public init(id: String, userID: UserID, action: String, reason: String, caseID: String?, sanctionID: String?, createdBy: String,
                createdAt: Date, voidedAt: Date?) {
        self.id = id
        self.userID = userID
        self.action = action
        self.reason = reason
        self.caseID = caseID
        self.sanctionID = sanctionID
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.voidedAt = voidedAt
    }
}
