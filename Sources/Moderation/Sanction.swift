import Foundation
import ParleyCore

/// What a moderator can impose on a user. Muted, suspended and banned users may not post content.
public enum SanctionKind: String, Sendable, Codable, CaseIterable {
    /// Global mute until an end time: content is refused, reading still works.
    case mute
    /// Suspension until an end time.
    case suspend
    /// Permanent until lifted.
    case ban

    /// The stable error code a sanctioned user's content is refused with.
    public var errorCode: String {
        switch self {
        case .mute: "moderation.muted"
        case .suspend: "moderation.suspended"
        case .ban: "moderation.banned"
        }
    }

    var pastTense: String {
        switch self {
        case .mute: "muted"
        case .suspend: "suspended"
        case .ban: "banned"
        }
    }

    /// Which sanction wins when several are active: ban, then suspension, then mute.
    var severity: Int {
        switch self {
        case .mute: 1
        case .suspend: 2
        case .ban: 3
        }
    }
}

/// A sanction on a user, active from `createdAt` until `endsAt` (nil: until lifted) unless lifted earlier.
public struct Sanction: Sendable, Equatable {
    public var id: String
    public var userID: UserID
    public var kind: SanctionKind
    public var reason: String
    public var createdBy: String
    public var createdAt: Date
    public var endsAt: Date?
    public var liftedAt: Date?
    public var liftedBy: String?
    public var liftReason: String?
    /// The case it was imposed from, if any.
    public var caseID: String?
    /// The strike recorded with it, which the user may appeal.
    public var strikeID: String?
    /// A mute may hold in one conversation only; nil means everywhere.
    public var conversationID: String?

    /// Whether it stops content posted in `conversationID` (nil: content outside any conversation).
    public func applies(in conversationID: String?) -> Bool {
        self.conversationID == nil || self.conversationID == conversationID
    }

    public func isActive(at now: Date) -> Bool {
        liftedAt == nil && (endsAt.map { $0 > now } ?? true)
    }
}
