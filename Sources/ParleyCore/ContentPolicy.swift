import Synchronization

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

    /// Starts, in the current `ContentReviewRun`, the reads a review of `actor`'s submissions with `context` will
    /// need (the author's sanctions), so that they run while the caller reads what it needs itself; the review then
    /// waits for them. Decides nothing. Nothing happens outside a run.
    func prefetch(actor: String, context: [String: JSONValue])
}

extension ContentPolicy {
    public func prefetch(actor: String, context: [String: JSONValue]) {}
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

    public func prefetch(actor: String, context: [String: JSONValue]) {
        for policy in policies { policy.prefetch(actor: actor, context: context) }
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

/// Lookups that the content policies may share across the submissions of one run: a connection's pipelined
/// sends to one conversation, reviewed one after the other. The author's sanctions, for instance, are read
/// once for the run instead of once per message, so every submission of the run is judged against the same
/// state. Set by whoever reviews a run (`ContentReviewRun.$current.withValue(ContentReviewRun()) { ... }`);
/// nil otherwise, and then nothing is shared.
public final class ContentReviewRun: Sendable {
    @TaskLocal public static var current: ContentReviewRun?

    private struct Memo<Value: Sendable>: Sendable {
        let value: Value
    }

    private let memos = Mutex<[String: any Sendable]>([:])

    public init() {}

    /// The value remembered under `key` in the current run, computed by `compute` the first time; outside a run,
    /// computed every time.
    public static func shared<Value: Sendable>(_ key: String, _ compute: () async throws -> Value) async throws -> Value {
        guard let run = current else { return try await compute() }
        return try await run.memoized(key, compute)
    }

    /// The value remembered under `key` for this run, computed by `compute` the first time (or by the computation
    /// `start` began under it).
    public func memoized<Value: Sendable>(_ key: String, _ compute: () async throws -> Value) async throws -> Value {
        switch memos.withLock({ $0[key] }) {
        case let memo as Memo<Value>: return memo.value
        case let started as Task<Value, any Error>: return try await started.value
        default: break
        }
        let value = try await compute()
        memos.withLock { $0[key] = Memo(value: value) }
        return value
    }

    /// Remembers `value` under `key` for this run, unless a value is known or begun already: for a caller that read
    /// it along with its own data.
    public func remember<Value: Sendable>(_ key: String, _ value: Value) {
        memos.withLock { memos in
            guard memos[key] == nil else { return }
            memos[key] = Memo(value: value)
        }
    }

    /// Begins computing the value of `key` now, in a task of its own, unless it is known or begun already.
    public func start<Value: Sendable>(_ key: String, _ compute: @escaping @Sendable () async throws -> Value) {
        memos.withLock { memos in
            guard memos[key] == nil else { return }
            memos[key] = Task { try await compute() }
        }
    }
}
