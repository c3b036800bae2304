import Foundation
import ParleyCore

/// What a case, a report or an audit line is about.
public struct ModerationSubject: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case message
        case user
        /// A submission a policy held back before it was stored.
        case held
    }

    public var kind: Kind
    public var id: String
    /// For messages: the conversation holding it (content removal needs it).
    public var conversationID: String?
    /// The user the subject belongs to: the author of a message or held submission, the reported user.
    public var userID: UserID?

    public init(kind: Kind, id: String, conversationID: String? = nil, userID: UserID? = nil) {
        self.kind = kind
        self.id = id
        self.conversationID = conversationID
        self.userID = userID
    }

    public static func user(_ id: UserID) -> ModerationSubject { ModerationSubject(kind: .user, id: id.rawValue, userID: id) }

    /// `message:m_1`, `user:alice`, `held:mh_1`: the merge key of the queue and the audit subject.
    public var key: String { "\(kind.rawValue):\(id)" }
}

/// The lifecycle state of a case.
public enum CaseState: String, Sendable, Codable, CaseIterable {
    /// In the queue, accumulating reports, holds and flags.
    case open
    /// A moderator acted (removed, warned, sanctioned, approved).
    case resolved
    /// A moderator found nothing to act on.
    case dismissed
}

/// What a moderator decides about a case.
public enum ModerationAction: String, Sendable, Codable, CaseIterable {
    case dismiss
    case removeContent = "remove_content"
    case warn
    case mute
    case suspend
    case ban
    /// Publish the held submission(s) of the case.
    case approve
}

/// One entry in the moderation queue: every report, policy hold and automatic flag about one subject,
/// merged while the case is open. A closed case never reopens; a new signal opens a new case.
public struct ModerationCase: Sendable, Equatable {
    public var id: String
    public var subject: ModerationSubject
    public var state: CaseState
    public var reportCount: Int
    public var holdCount: Int
    public var flagCount: Int
    /// Distinct reasons, in arrival order: report categories, hold reasons, flag reasons.
    public var reasons: [String]
    public var openedAt: Date
    public var updatedAt: Date
    public var resolvedAt: Date?
    public var resolvedBy: String?
    public var resolution: ModerationAction?
    public var resolutionReason: String?
}

/// The categories a user may report under.
public enum ReportCategory: String, Sendable, Codable, CaseIterable {
    case spam, harassment, hate, sexual, violence, illegal, other
}

/// A user's report of a message or a user.
public struct Report: Sendable, Equatable {
    public static let maxTextLength = 1000

    public var id: String
    public var reporter: UserID
    public var subject: ModerationSubject
    public var category: ReportCategory
    public var text: String
    public var caseID: String
    public var createdAt: Date
}
