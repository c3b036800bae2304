/// User-generated content on its way to being stored: a message, an edit, later a comment or a ticket reply.
public struct ContentSubmission: Sendable, Equatable {
    /// What is being written: `message`, `message_edit`, ...
    public var kind: String
    /// Who writes it, as a principal label (`user:alice`).
    public var actor: String
    /// Where it goes, e.g. `conversation_id`, `message_kind`, `mentions`.
    public var context: [String: JSONValue]
    public var body: JSONValue

    public init(kind: String, actor: String, context: [String: JSONValue], body: JSONValue) {
        self.kind = kind
        self.actor = actor
        self.context = context
        self.body = body
    }
}

/// What a content policy decides.
public enum ContentVerdict: Sendable, Equatable {
    case allow
    /// Store this body instead.
    case rewrite(JSONValue)
    /// Keep it out of the log until a moderator approves it; `reference` names the held copy
    /// (the sender is told it, and approval publishes that copy).
    case hold(reason: String, reference: String)
    /// Refuse it, with a stable error code and a reason the sender may see.
    case reject(code: String, reason: String)
}

/// The write-path check every context runs before storing user content (DESIGN §7). Contexts see only
/// this protocol; the composition root decides what is behind it (filters, rate limits, the platform's
/// before-send hook, ...).
public protocol ContentPolicy: Sendable {
    func review(_ submission: ContentSubmission) async throws -> ContentVerdict
}

/// Lets everything through: the policy when nothing is configured.
public struct AllowAllContent: ContentPolicy {
    public init() {}
    public func review(_ submission: ContentSubmission) async throws -> ContentVerdict { .allow }
}

/// Runs policies in order: a rewrite is what the next one sees; the first hold or reject ends the review.
public struct ContentPolicyChain: ContentPolicy {
    let policies: [any ContentPolicy]

    public init(_ policies: [any ContentPolicy]) {
        self.policies = policies
    }

    public func review(_ submission: ContentSubmission) async throws -> ContentVerdict {
        var current = submission
        var rewritten = false
        for policy in policies {
            switch try await policy.review(current) {
            case .allow:
                continue
            case .rewrite(let body):
                current.body = body
                rewritten = true
            case let verdict:
                return verdict
            }
        }
        return rewritten ? .rewrite(current.body) : .allow
    }
}

/// Publishes content a moderator approved after a policy held it: each context that can be held
/// implements it for its kinds (`message`, ...), and Moderation calls it on approval.
public protocol HeldContentPublisher: Sendable {
    /// The submission kinds this publisher handles.
    var kinds: Set<String> { get }
    /// Stores the submission as if it had just passed review; returns a reference to what was stored.
    func publish(_ submission: ContentSubmission) async throws -> String
}
