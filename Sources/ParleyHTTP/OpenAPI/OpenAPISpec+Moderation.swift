import Moderation
import ParleyCore

/// The documented routes of risk control: reports, blocks, appeals, and the moderators' tools.
extension OpenAPIBuilder {
    public mutating func addModeration() {
        let page: [(name: String, type: String, description: String)] = [
            ("limit", "integer", "1 to 200, default 50"), ("cursor", "string", "next_cursor of the previous page"),
        ]
        func list(_ item: String) -> JSONValue {
            Schema.object(["items": Schema.array(Schema.ref(item)), "next_cursor": Schema.nullableString], required: ["items", "next_cursor"])
        }
        let mod = " Moderators (role moderator or admin) or an admin API key."
        let admin = " Admins (role admin) or an admin API key."
        add([
            OpenAPIOperation("POST", "/v1/reports", tag: "moderation",
                             summary: "Report a message or a user; it joins the subject's open moderation case. Limited per user (action report).",
                             security: .userToken, request: "ReportCreate", responses: [(201, "The report", "Report")]),
            OpenAPIOperation("GET", "/v1/blocks", tag: "moderation", summary: "The users I blocked, by id.", security: .userToken,
                             query: page, responses: [(200, "A page of blocks", "BlockPage")]),
            OpenAPIOperation("PUT", "/v1/blocks/{user_id}", tag: "moderation",
                             summary: "Block a user: no direct messages between us, their mentions of me are dropped.", security: .userToken,
                             responses: [(201, "Blocked", "Block"), (200, "Already blocked", "Block")]),
            OpenAPIOperation("DELETE", "/v1/blocks/{user_id}", tag: "moderation", summary: "Unblock a user (idempotent).",
                             security: .userToken, responses: [(204, "Not blocked", nil)]),
            OpenAPIOperation("GET", "/v1/me/strikes", tag: "moderation", summary: "Moderator actions against me, newest first (appealable by id).",
                             security: .userToken, responses: [(200, "My strikes", "StrikeList")]),
            OpenAPIOperation("POST", "/v1/appeals", tag: "moderation",
                             summary: "Appeal one of my strikes, within 14 days, once per strike.", security: .userToken,
                             request: "AppealCreate", responses: [(201, "The appeal", "Appeal")]),
            OpenAPIOperation("GET", "/v1/moderation/cases", tag: "moderation", summary: "The moderation queue: cases by state, oldest first." + mod,
                             security: .either, query: [("state", "string", "open (default), resolved or dismissed")] + page,
                             responses: [(200, "A page of cases", "CasePage")]),
            OpenAPIOperation("GET", "/v1/moderation/cases/{case_id}", tag: "moderation", summary: "A case with its reports and held content." + mod,
                             security: .either, responses: [(200, "The case", "CaseDetail")]),
            OpenAPIOperation("POST", "/v1/moderation/cases/{case_id}/actions", tag: "moderation",
                             summary: "Decide a case: dismiss, remove_content, warn, mute, suspend, ban or approve, with a reason." + mod,
                             security: .either, request: "CaseAction", responses: [(200, "The closed case", "Case")]),
            OpenAPIOperation("GET", "/v1/moderation/sanctions", tag: "moderation", summary: "Sanctions, newest first." + mod, security: .either,
                             query: [("user_id", "string", "only this user's"), ("active", "boolean", "only those in force")] + page,
                             responses: [(200, "A page of sanctions", "SanctionPage")]),
            OpenAPIOperation("POST", "/v1/moderation/sanctions", tag: "moderation",
                             summary: "Mute, suspend (both need duration_seconds) or ban a user, with a reason; records a strike." + mod,
                             security: .either, request: "SanctionCreate", responses: [(201, "The sanction", "Sanction")]),
            OpenAPIOperation("POST", "/v1/moderation/sanctions/{sanction_id}/lift", tag: "moderation", summary: "Lift a sanction early." + mod,
                             security: .either, request: "Reason", responses: [(200, "The lifted sanction", "Sanction")]),
            OpenAPIOperation("GET", "/v1/moderation/held", tag: "moderation", summary: "Held submissions by state, oldest first." + mod,
                             security: .either, query: [("state", "string", "held (default), approved or rejected")] + page,
                             responses: [(200, "A page of held submissions", "HeldPage")]),
            OpenAPIOperation("POST", "/v1/moderation/held/{held_id}/approve", tag: "moderation",
                             summary: "Publish a held submission as if it had passed review." + mod, security: .either,
                             request: "OptionalReason", responses: [(200, "The approved submission", "Held")]),
            OpenAPIOperation("POST", "/v1/moderation/held/{held_id}/reject", tag: "moderation",
                             summary: "Reject a held submission: it never enters the log." + mod, security: .either,
                             request: "OptionalReason", responses: [(200, "The rejected submission", "Held")]),
            OpenAPIOperation("GET", "/v1/moderation/audit", tag: "moderation",
                             summary: "The audit log about a subject (user:ID, message:ID, held:ID, ...) or by an actor, newest first." + mod,
                             security: .either, query: [("subject", "string", "e.g. user:alice"), ("actor", "string", "e.g. user:mod1 or system:moderation")] + page,
                             responses: [(200, "A page of audit entries", "AuditPage")]),
            OpenAPIOperation("GET", "/v1/moderation/appeals", tag: "moderation", summary: "Appeals by state, oldest first." + mod,
                             security: .either, query: [("state", "string", "pending (default), granted or denied")] + page,
                             responses: [(200, "A page of appeals", "AppealPage")]),
            OpenAPIOperation("POST", "/v1/moderation/appeals/{appeal_id}/decision", tag: "moderation",
                             summary: "Grant (void the strike, lift its sanction) or deny an appeal." + mod, security: .either,
                             request: "AppealDecision", responses: [(200, "The decided appeal", "Appeal")]),
            OpenAPIOperation("GET", "/v1/moderation/rate-limits", tag: "moderation", summary: "Default rate limits and overrides." + admin,
                             security: .either, responses: [(200, "Limits", "RateLimits")]),
            OpenAPIOperation("PUT", "/v1/moderation/rate-limits/overrides", tag: "moderation",
                             summary: "Set an action's per-user limit for a role or a user." + admin, security: .either,
                             request: "RateLimitOverride", responses: [(200, "The override", "RateLimitOverride")]),
            OpenAPIOperation("DELETE", "/v1/moderation/rate-limits/overrides/{action}/{scope}/{target}", tag: "moderation",
                             summary: "Remove an override." + admin, security: .either, responses: [(204, "Removed", nil)]),
        ], schemas: [
            "ReportCreate": Schema.object([
                "subject_type": Schema.enumeration(["message", "user"]), "subject_id": Schema.string, "conversation_id": Schema.string,
                "category": Schema.enumeration(ReportCategory.allCases.map(\.rawValue)), "text": Schema.string,
            ], required: ["subject_type", "subject_id", "category"]),
            "Report": Schema.object([
                "id": Schema.string, "subject": Schema.string, "category": Schema.string, "case_id": Schema.string, "created_at": Schema.timestamp,
            ], required: ["id", "subject", "category", "case_id", "created_at"]),
            "Block": Schema.object(["user_id": Schema.string, "created_at": Schema.timestamp], required: ["user_id", "created_at"]),
            "BlockPage": list("Block"),
            "Strike": Schema.object([
                "id": Schema.string, "action": Schema.string, "reason": Schema.string, "case_id": Schema.nullableString,
                "sanction_id": Schema.nullableString, "created_at": Schema.timestamp, "voided_at": Schema.nullableString,
            ], required: ["id", "action", "reason", "created_at"]),
            "StrikeList": list("Strike"),
            "AppealCreate": Schema.object(["strike_id": Schema.string, "text": Schema.string], required: ["strike_id", "text"]),
            "Appeal": Schema.object([
                "id": Schema.string, "strike_id": Schema.string, "user_id": Schema.string, "text": Schema.string,
                "state": Schema.enumeration(AppealState.allCases.map(\.rawValue)), "created_at": Schema.timestamp,
                "decided_at": Schema.nullableString, "decided_by": Schema.nullableString, "decision_reason": Schema.nullableString,
            ], required: ["id", "strike_id", "user_id", "text", "state", "created_at"]),
            "AppealPage": list("Appeal"),
            "AppealDecision": Schema.object(["decision": Schema.enumeration(["grant", "deny"]), "reason": Schema.string],
                                            required: ["decision", "reason"]),
            "Case": Schema.object([
                "id": Schema.string, "subject": Schema.string, "subject_type": Schema.string, "subject_id": Schema.string,
                "conversation_id": Schema.nullableString, "user_id": Schema.nullableString,
                "state": Schema.enumeration(CaseState.allCases.map(\.rawValue)), "report_count": Schema.integer, "hold_count": Schema.integer,
                "flag_count": Schema.integer, "reasons": Schema.array(Schema.string), "opened_at": Schema.timestamp,
                "updated_at": Schema.timestamp, "resolved_at": Schema.nullableString, "resolved_by": Schema.nullableString,
                "resolution": Schema.nullableString, "resolution_reason": Schema.nullableString,
            ], required: ["id", "subject", "state", "report_count", "hold_count", "flag_count", "reasons"]),
            "CaseDetail": Schema.object([
                "id": Schema.string, "subject": Schema.string, "state": Schema.string,
                "reports": Schema.array(Schema.anyObject), "held": Schema.array(Schema.ref("Held")),
            ], required: ["id", "subject", "state", "reports", "held"]),
            "CasePage": list("Case"),
            "CaseAction": Schema.object([
                "action": Schema.enumeration(ModerationAction.allCases.map(\.rawValue)), "reason": Schema.string,
                "duration_seconds": Schema.integer,
            ], required: ["action", "reason"]),
            "Sanction": Schema.object([
                "id": Schema.string, "user_id": Schema.string, "kind": Schema.enumeration(SanctionKind.allCases.map(\.rawValue)),
                "reason": Schema.string, "created_by": Schema.string, "created_at": Schema.timestamp, "until": Schema.nullableString,
                "lifted_at": Schema.nullableString, "lifted_by": Schema.nullableString, "case_id": Schema.nullableString,
                "strike_id": Schema.nullableString, "conversation_id": Schema.nullableString,
            ], required: ["id", "user_id", "kind", "reason", "created_at"]),
            "SanctionPage": list("Sanction"),
            "SanctionCreate": Schema.object([
                "user_id": Schema.string, "kind": Schema.enumeration(SanctionKind.allCases.map(\.rawValue)), "reason": Schema.string,
                "duration_seconds": Schema.integer,
                "conversation_id": .object(["type": "string", "description": "mute only: the mute holds in this conversation alone"]),
            ], required: ["user_id", "kind", "reason"]),
            "Reason": Schema.object(["reason": Schema.string], required: ["reason"]),
            "OptionalReason": Schema.object(["reason": Schema.string]),
            "Held": Schema.object([
                "id": Schema.string, "kind": Schema.string, "actor": Schema.string, "context": Schema.anyObject, "body": Schema.anyValue,
                "reason": Schema.string, "state": Schema.enumeration(HeldState.allCases.map(\.rawValue)), "case_id": Schema.nullableString,
                "created_at": Schema.timestamp, "decided_at": Schema.nullableString, "decided_by": Schema.nullableString,
                "published_ref": Schema.nullableString,
            ], required: ["id", "kind", "actor", "body", "reason", "state", "created_at"]),
            "HeldPage": list("Held"),
            "AuditEntry": Schema.object([
                "id": Schema.string, "actor": Schema.string, "action": Schema.string, "subject": Schema.string, "reason": Schema.string,
                "details": Schema.anyObject, "at": Schema.timestamp,
            ], required: ["id", "actor", "action", "subject", "reason", "details", "at"]),
            "AuditPage": list("AuditEntry"),
            "RateLimitOverride": Schema.object([
                "action": Schema.enumeration(RateLimitedAction.allCases.map(\.rawValue)), "scope": Schema.enumeration(["role", "user"]),
                "target": Schema.string, "count": Schema.integer, "period_seconds": .object(["type": "number"]), "burst": Schema.integer,
            ], required: ["action", "scope", "target", "count", "period_seconds"]),
            "RateLimits": Schema.object([
                "defaults": Schema.array(Schema.anyObject), "overrides": Schema.array(Schema.ref("RateLimitOverride")),
            ], required: ["defaults", "overrides"]),
        ])
    }
}
