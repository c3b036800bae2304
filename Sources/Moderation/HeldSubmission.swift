import Foundation
import ParleyCore

/// Where a held submission is in its life.
public enum HeldState: String, Sendable, Codable, CaseIterable {
    case held, approved, rejected

    /// The only transitions: held → approved, held → rejected. Throws `moderation.held_already_decided` otherwise.
    public func transition(to next: HeldState, id: String) throws(ParleyError) -> HeldState {
        guard self == .held, next != .held else { throw ParleyError.heldAlreadyDecided(id, state: self) }
        return next
    }
}

/// User content a policy kept out of the log until a moderator decides.
public struct HeldSubmission: Sendable, Equatable {
    public var id: String
    public var submission: ContentSubmission
    public var reason: String
    public var state: HeldState
    public var caseID: String?
    public var createdAt: Date
    public var decidedAt: Date?
    public var decidedBy: String?
    /// What the publisher returned on approval (e.g. the stored message's id).
    public var publishedReference: String?

    /// The author, when the submission's actor is a user (`user:alice`).
    public var author: UserID? { userID(fromLabel: submission.actor) }
}

/// The user id in a principal label `user:<id>`, nil for anything else.
func userID(fromLabel label: String) -> UserID? {
    guard label.hasPrefix("user:") else { return nil }
    return try? UserID(validating: String(label.dropFirst(5)))
}
