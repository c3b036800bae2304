import ParleyCore

extension ParleyError {
    static func conversationNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "messaging.conversation_not_found", message: "No conversation '\(id)' that you can see.",
                    details: ["conversation_id": .string(id)])
    }

    static func notMember(_ id: String) -> ParleyError {
        ParleyError(.forbidden, code: "messaging.not_member", message: "You are not a member of this conversation.",
                    details: ["conversation_id": .string(id)])
    }

    static func memberMuted(until: String) -> ParleyError {
        ParleyError(.forbidden, code: "messaging.member_muted", message: "You are muted in this conversation until \(until).",
                    details: ["muted_until": .string(until)])
    }

    static func notAllowed(_ action: String, needs role: MemberRole) -> ParleyError {
        ParleyError(.forbidden, code: "messaging.insufficient_role", message: "Only a group \(role.rawValue) may \(action).",
                    details: ["required_role": .string(role.rawValue)])
    }

    static let broadcastAdminsOnly = ParleyError(
        .forbidden, code: "messaging.broadcast_admins_only", message: "Only owners and admins post in a broadcast group."
    )

    static let dissolved = ParleyError(.conflict, code: "messaging.conversation_dissolved", message: "The conversation was dissolved.")

    static func messageNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "messaging.message_not_found", message: "No message '\(id)' in this conversation.",
                    details: ["message_id": .string(id)])
    }

    static let editWindowPassed = ParleyError(
        .forbidden, code: "messaging.edit_window_passed", message: "This message can no longer be edited."
    )

    static let recallWindowPassed = ParleyError(
        .forbidden, code: "messaging.recall_window_passed", message: "This message can no longer be recalled."
    )

    static let notSender = ParleyError(.forbidden, code: "messaging.not_sender", message: "Only the sender may do this to a message.")

    static let alreadyRecalled = ParleyError(.conflict, code: "messaging.message_recalled", message: "The message was recalled.")

    static let notEditable = ParleyError(.unprocessable, code: "messaging.not_editable", message: "Messages of this kind cannot be edited.")

    static let ownerMustTransfer = ParleyError(
        .conflict, code: "messaging.owner_must_transfer", message: "Transfer ownership to another member before leaving."
    )

    static let directIsFixed = ParleyError(
        .unprocessable, code: "messaging.direct_is_fixed", message: "A direct conversation always has exactly its two people."
    )

    static func invalidBody(_ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "messaging.invalid_body", message: "The message body is invalid: \(reason)")
    }

    static func userNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "identity.user_not_found", message: "No user '\(id)'.", details: ["user_id": .string(id)])
    }

    static let cannotMessageSelf = ParleyError(
        .unprocessable, code: "messaging.cannot_message_self", message: "A direct conversation needs another person."
    )

    static let tooManyMembers = ParleyError(
        .unprocessable, code: "messaging.too_many_members", message: "The group would exceed its member limit."
    )

    static let blocked = ParleyError(
        .forbidden, code: "moderation.blocked", message: "One of you has blocked the other: direct messages are not possible."
    )

    static let invalidSeq = ParleyError(.badRequest, code: "messaging.invalid_seq", message: "The seq is outside this conversation's log.")
}
