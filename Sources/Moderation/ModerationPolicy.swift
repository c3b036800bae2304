import Foundation
import ParleyCore
import ParleyStorage

/// The risk-control pipeline of DESIGN §7 for user content, as the `ContentPolicy` contexts call:
///
/// 1. **Sanctions**: a muted, suspended or banned author is refused (`moderation.muted` / `.suspended` /
///    `.banned`, with `until`). Blocks are not checked here: Messaging applies `BlockRelations` itself.
/// 2. **Text screens** in order (the sensitive-word filter plugs in here): a rewrite is what the next screen
///    sees; `review` holds the submission; `reject` refuses it.
/// 3. **Flood and duplicates** (`FloodDetector`): floods, mention floods and exact duplicates are refused
///    (`moderation.flood`, `moderation.mention_flood`, `moderation.duplicate`); a copy-paste campaign is held.
///
/// A hold stores the submission, opens or updates its case and audits it, and returns `.hold(reason:reference:)`
/// naming the held copy. A submission kind that no `HeldContentPublisher` can publish is refused with
/// `moderation.review_required` instead of held, since it could never be approved. Every automated reject,
/// rewrite and hold is audited. Text lives in `body["text"]`; bodies without text skip the text screens.
/// Submissions from non-user actors (the platform) pass untouched.
public struct ModerationPolicy: ContentPolicy {
    let service: ModerationService
    let screens: [any TextScreen]
    let flood: FloodDetector?

    public init(service: ModerationService, screens: [any TextScreen] = [], flood: FloodDetector? = nil) {
        self.service = service
        self.screens = screens
        self.flood = flood
    }

    /// The author's sanctions are read while the sender's conversation is (they decide alone whether anything else
    /// of the review runs).
    public func prefetch(actor: String, context: [String: JSONValue]) {
        guard let author = userID(fromLabel: actor) else { return }
        let lookup = sanctionLookup(author, in: context["conversation_id"]?.stringValue)
        ContentReviewRun.current?.start(lookup.key, lookup.read)
    }

    /// The sanction of `author` that applies in the conversation (the most severe), as a lookup a run shares: its key
    /// in the run and how to read it. `review` decides with it; `prefetch` and `reviewRead` begin it early.
    func sanctionLookup(_ author: UserID, in conversationID: String?) -> (key: String, read: @Sendable () async throws -> Sanction?) {
        let service = service
        return ("sanction \(author.rawValue) \(conversationID ?? "")", { try await service.activeSanction(of: author, in: conversationID) })
    }

    public func review(_ submission: ContentSubmission) async throws -> ContentVerdict {
        guard let author = userID(fromLabel: submission.actor) else { return .allow }
        let subject = "user:\(author.rawValue)"
        let lookup = sanctionLookup(author, in: submission.context["conversation_id"]?.stringValue)
        if let sanction = try await ContentReviewRun.shared(lookup.key, lookup.read) {
            let error = ParleyError.sanctioned(sanction)
            throw error
        }
        var current = submission
        var rewritten = false
        if let text = submission.body["text"]?.stringValue {
            var text = text
            for screen in screens {
                switch try await screen.screen(text, in: current) {
                case .allow:
                    continue
                case .rewrite(let replacement):
                    try await service.audit.record(actor: automatedActor, action: "rewrite", subject: subject, reason: screen.name,
                                                   details: ["kind": .string(submission.kind), "screen": .string(screen.name)],
                                                   at: service.clock.now())
                    text = replacement
                    current.body = Self.replacingText(in: current.body, with: replacement)
                    rewritten = true
                case .review(let reason):
                    return try await hold(current, reason: reason, screen: screen.name)
                case .reject(let code, let reason):
                    try await auditReject(subject: subject, code: code, reason: reason, check: screen.name, kind: submission.kind)
                    return .reject(code: code, reason: reason)
                }
            }
        }
        if let flood {
            let mentions = submission.context["mentions"].flatMap { value -> Int? in
                if case .array(let items) = value { return items.count }
                return nil
            } ?? 0
            let finding = await flood.check(sender: subject, conversation: submission.context["conversation_id"]?.stringValue,
                                        text: current.body["text"]?.stringValue, mentions: submission.kind == "message" ? mentions : 0)
            switch finding {
            case .clean:
                break
            case .flood(let scope):
                let reason = "Too many messages in a short time; slow down."
                try await auditReject(subject: subject, code: "moderation.flood", reason: reason, check: "flood_\(scope)", kind: submission.kind)
                return .reject(code: "moderation.flood", reason: reason)
            case .mentionFlood(let count, let scope):
                let reason = "Too many mentions (\(count))."
                try await auditReject(subject: subject, code: "moderation.mention_flood", reason: reason, check: "mentions_\(scope)",
                                      kind: submission.kind)
                return .reject(code: "moderation.mention_flood", reason: reason)
            case .duplicate:
                let reason = "You just sent the same text."
                try await auditReject(subject: subject, code: "moderation.duplicate", reason: reason, check: "duplicate", kind: submission.kind)
                return .reject(code: "moderation.duplicate", reason: reason)
            case .campaign(let conversations):
                return try await hold(current, reason: "near_duplicate_campaign", screen: "simhash",
                                      details: ["conversations": .int(conversations)])
            }
        }
        return rewritten ? .rewrite(current.body) : .allow
    }

    func hold(_ submission: ContentSubmission, reason: String, screen: String, details: [String: JSONValue] = [:]) async throws -> ContentVerdict {
        guard service.canPublish(kind: submission.kind) else {
            let text = "This content needs review and cannot be held: \(reason)"
            try await auditReject(subject: submission.actor, code: "moderation.review_required", reason: text, check: screen, kind: submission.kind)
            return .reject(code: "moderation.review_required", reason: text)
        }
        var auditDetails = details
        auditDetails["check"] = .string(screen)
        let held = try await service.hold(submission, reason: reason, details: auditDetails)
        return .hold(reason: reason, reference: held.id)
    }

    func auditReject(subject: String, code: String, reason: String, check: String, kind: String) async throws {
        try await service.audit.record(actor: automatedActor, action: "reject", subject: subject, reason: reason,
                                       details: ["code": .string(code), "check": .string(check), "kind": .string(kind)],
                                       at: service.clock.now())
    }

    static func replacingText(in body: JSONValue, with text: String) -> JSONValue {
        guard var object = body.objectValue else { return body }
        object["text"] = .string(text)
        return .object(object)
    }
}

extension ModerationPolicy: ReviewReadsInSQL {
    /// Whether the author has any sanction in force, as a column of the caller's statement. Almost always not, and
    /// then the review reads nothing of its own; when there is one, the run reads the sanctions as `review` would
    /// (which of them applies in this conversation, the most severe), so the decision stays in one place.
    public func reviewRead(actor: String, context: [String: JSONValue]) -> ReviewReadInSQL? {
        guard let author = userID(fromLabel: actor) else { return nil }
        let lookup = sanctionLookup(author, in: context["conversation_id"]?.stringValue)
        let anyInForce = BulkSQL("(SELECT MIN(id) FROM moderation_sanctions WHERE ")
            + ModerationStore.inForce(of: author, at: service.clock.now()) + ")"
        return ReviewReadInSQL(expression: anyInForce) { found in
            guard let run = ContentReviewRun.current else { return }
            if found == nil {
                run.remember(lookup.key, Sanction?.none)
            } else {
                run.start(lookup.key, lookup.read)
            }
        }
    }
}
