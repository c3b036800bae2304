import Foundation
import ParleyCore

// Every error the Moderation context throws, each with its stable code.
extension ParleyError {
    public static func rateLimited(_ action: RateLimitedAction, key: String, retryAfter: Int) -> ParleyError {
        ParleyError(.rateLimited, code: "moderation.rate_limited",
                    message: "Too many '\(action.rawValue)' requests; retry in \(retryAfter) s.",
                    details: ["action": .string(action.rawValue), "key": .string(key), "retry_after": .int(retryAfter)],
                    retryAfter: retryAfter)
    }

    /// The refusal a sanctioned user gets for any content: `moderation.muted`, `.suspended` or `.banned`.
    public static func sanctioned(_ sanction: Sanction) -> ParleyError {
        var details: [String: JSONValue] = ["sanction_id": .string(sanction.id), "kind": .string(sanction.kind.rawValue)]
        details["until"] = sanction.endsAt.map { .string(Timestamp.format($0)) } ?? .null
        if let conversationID = sanction.conversationID { details["conversation_id"] = .string(conversationID) }
        let until = sanction.endsAt.map { " until \(Timestamp.format($0))" } ?? ""
        let scope = sanction.conversationID == nil ? "" : " in this conversation"
        return ParleyError(.forbidden, code: sanction.kind.errorCode, message: "You are \(sanction.kind.pastTense)\(scope)\(until).",
                           details: details)
    }

    public static func caseNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "moderation.case_not_found", message: "No such moderation case.", details: ["case_id": .string(id)])
    }

    static func sanctionNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "moderation.sanction_not_found", message: "No such sanction.", details: ["sanction_id": .string(id)])
    }

    static func heldNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "moderation.held_not_found", message: "No such held submission.", details: ["held_id": .string(id)])
    }

    static func appealNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "moderation.appeal_not_found", message: "No such appeal.", details: ["appeal_id": .string(id)])
    }

    static func strikeNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "moderation.strike_not_found", message: "No such moderation action against you.",
                    details: ["strike_id": .string(id)])
    }

    static func caseClosed(_ id: String, state: CaseState) -> ParleyError {
        ParleyError(.conflict, code: "moderation.case_closed", message: "The case is already \(state.rawValue).",
                    details: ["case_id": .string(id), "state": .string(state.rawValue)])
    }

    static func caseHasHeldContent(_ id: String) -> ParleyError {
        ParleyError(.conflict, code: "moderation.case_has_held_content",
                    message: "The case holds content awaiting a decision: approve it, or remove it, instead of dismissing.",
                    details: ["case_id": .string(id)])
    }

    static func actionNeedsUser(_ action: ModerationAction) -> ParleyError {
        ParleyError(.unprocessable, code: "moderation.no_subject_user",
                    message: "'\(action.rawValue)' acts on a user, and this case names none.", details: ["action": .string(action.rawValue)])
    }

    static func nothingToApprove(_ id: String) -> ParleyError {
        ParleyError(.conflict, code: "moderation.nothing_to_approve", message: "The case holds no content to approve.",
                    details: ["case_id": .string(id)])
    }

    static func nothingToRemove(_ id: String) -> ParleyError {
        ParleyError(.unprocessable, code: "moderation.nothing_to_remove", message: "The case names no content that can be removed.",
                    details: ["case_id": .string(id)])
    }

    static func heldAlreadyDecided(_ id: String, state: HeldState) -> ParleyError {
        ParleyError(.conflict, code: "moderation.held_already_decided", message: "The held submission is already \(state.rawValue).",
                    details: ["held_id": .string(id), "state": .string(state.rawValue)])
    }

    static func noPublisher(kind: String) -> ParleyError {
        ParleyError(.unavailable, code: "moderation.no_publisher", message: "Nothing is wired to publish held '\(kind)' content.",
                    details: ["kind": .string(kind)])
    }

    static func noRemover() -> ParleyError {
        ParleyError(.unavailable, code: "moderation.no_content_remover", message: "Nothing is wired to remove content.")
    }

    static func sanctionAlreadyLifted(_ id: String) -> ParleyError {
        ParleyError(.conflict, code: "moderation.sanction_lifted", message: "The sanction was already lifted.", details: ["sanction_id": .string(id)])
    }

    static func appealWindowPassed(_ strikeID: String, days: Int) -> ParleyError {
        ParleyError(.conflict, code: "moderation.appeal_window_passed", message: "Appeals are accepted for \(days) days after the action.",
                    details: ["strike_id": .string(strikeID)])
    }

    static func alreadyAppealed(_ strikeID: String) -> ParleyError {
        ParleyError(.conflict, code: "moderation.already_appealed", message: "This action was already appealed; one appeal per action.",
                    details: ["strike_id": .string(strikeID)])
    }

    static func appealAlreadyDecided(_ id: String, state: AppealState) -> ParleyError {
        ParleyError(.conflict, code: "moderation.appeal_decided", message: "The appeal is already \(state.rawValue).",
                    details: ["appeal_id": .string(id), "state": .string(state.rawValue)])
    }

    static let cannotBlockSelf = ParleyError(.badRequest, code: "moderation.cannot_block_self", message: "You cannot block yourself.")
    static let cannotReportSelf = ParleyError(.badRequest, code: "moderation.cannot_report_self", message: "You cannot report yourself.")

    static func reportedContentNotFound(_ subject: String) -> ParleyError {
        ParleyError(.notFound, code: "moderation.reported_content_not_found",
                    message: "The reported content does not exist or is not visible to you.", details: ["subject": .string(subject)])
    }

    static func invalidLimit(_ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "moderation.invalid_limit", message: "The rate limit is invalid: \(reason)")
    }
}
