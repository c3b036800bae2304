import Foundation
import ParleyCore

/// One step of text screening in `ModerationPolicy`, such as the sensitive-word filter.
///
/// Implementations must be fast and side-effect free: the policy audits and acts on the outcome.
public protocol TextScreen: Sendable {
    /// A short name for audit lines (`sensitive_words`).
    var name: String { get }
    /// Screens `text`, written by `submission.actor` in `submission.context`.
    func screen(_ text: String, in submission: ContentSubmission) async throws -> TextScreenOutcome
}

/// What a text screen decides.
public enum TextScreenOutcome: Sendable, Equatable {
    case allow
    /// Store this text instead (masked words).
    case rewrite(String)
    /// Hold the submission for a moderator, with a reason shown in the queue.
    case review(reason: String)
    /// Refuse it with a stable code (`moderation.sensitive_word`) and a reason the sender may see.
    case reject(code: String, reason: String)
}

/// Removes content a moderator decided to take down. The composition root wires it to Messaging's recall
/// (acting as the platform), so Moderation never touches another context's tables.
public protocol ContentRemover: Sendable {
    /// Removes the message `subject.id` in `subject.conversationID`. `actor` is the moderator's label for the
    /// owning context's own log. Removing already-removed content must not throw.
    func remove(_ subject: ModerationSubject, actor: String) async throws
}

/// What Moderation learns about reported content from the context that owns it.
public struct ReportedContent: Sendable, Equatable {
    public var author: UserID?
    public var conversationID: String?

    public init(author: UserID?, conversationID: String?) {
        self.author = author
        self.conversationID = conversationID
    }
}

/// Looks up reported content, checking the reporter can see it. Wired by the composition root to Messaging.
public protocol ReportedContentResolver: Sendable {
    /// The content, or nil when it does not exist or `reporter` may not see it.
    func resolve(_ subject: ModerationSubject, reporter: UserID) async throws -> ReportedContent?
}
