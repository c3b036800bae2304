import Foundation
import Hummingbird
import Moderation
import ParleyCore

/// Risk control over HTTP: users report, block and appeal; moderators (role `moderator`, or an `admin` API key)
/// work the queue, sanctions, held content, appeals and the audit log; admins edit rate-limit overrides.
public struct ModerationController: Sendable {
    let service: ModerationService
    let overrides: RateLimitOverrideStore
    let limiter: GCRARateLimiter?
    let rateLimiter: any ActionRateLimiter

    /// `limiter` is told to re-read overrides after an edit and reports the defaults; `rateLimiter` limits reports.
    public init(service: ModerationService, overrides: RateLimitOverrideStore, limiter: GCRARateLimiter? = nil,
                rateLimiter: (any ActionRateLimiter)? = nil) {
        self.service = service
        self.overrides = overrides
        self.limiter = limiter
        self.rateLimiter = rateLimiter ?? limiter ?? NoRateLimits()
    }

    static let moderator = AccessPolicy.userWithRoleOrAPIKey(.moderator, .admin)
    static let admin = AccessPolicy.userWithRoleOrAPIKey(.admin, .admin)
    static let maxReasonLength = 1000

    struct ReportBody: RequestBody {
        static let fields: Set<String> = ["subject_type", "subject_id", "conversation_id", "category", "text"]
        let subject_type: String
        let subject_id: String
        let conversation_id: String?
        let category: String
        let text: String?
    }

    struct AppealBody: RequestBody {
        static let fields: Set<String> = ["strike_id", "text"]
        let strike_id: String
        let text: String
    }

    struct ActBody: RequestBody {
        static let fields: Set<String> = ["action", "reason", "duration_seconds"]
        let action: String
        let reason: String
        let duration_seconds: Int?
    }

    struct SanctionBody: RequestBody {
        static let fields: Set<String> = ["user_id", "kind", "reason", "duration_seconds", "conversation_id"]
        let user_id: String
        let kind: String
        let reason: String
        let duration_seconds: Int?
        let conversation_id: String?
    }

    struct ReasonBody: RequestBody {
        static let fields: Set<String> = ["reason"]
        let reason: String?
    }

    struct DecisionBody: RequestBody {
        static let fields: Set<String> = ["decision", "reason"]
        let decision: String
        let reason: String
    }

    struct OverrideBody: RequestBody {
        static let fields: Set<String> = ["action", "scope", "target", "count", "period_seconds", "burst"]
        let action: String
        let scope: String
        let target: String
        let count: Int
        let period_seconds: Double
        let burst: Int?
    }

    public func register(on routes: RouteTable) {
        registerUserRoutes(on: routes)
        registerModeratorRoutes(on: routes)
    }

    // MARK: Users

    func registerUserRoutes(on routes: RouteTable) {
        routes.add(.post, "/v1/reports", policy: .user, limit: .report) { request, context in
            let (user, roles) = try context.requireUser()
            let body = try await request.decodeBody(ReportBody.self, context: context)
            let category = try Self.parse(ReportCategory.self, body.category, field: "category")
            let text = body.text ?? ""
            guard text.count <= Report.maxTextLength else { throw ParleyError.fieldTooLong("text", limit: Report.maxTextLength) }
            let subject: ModerationSubject
            switch body.subject_type {
            case "user":
                subject = .user(try UserID(validating: body.subject_id))
            case "message":
                try Self.checkID(body.subject_id, field: "subject_id")
                if let conversation = body.conversation_id { try Self.checkID(conversation, field: "conversation_id") }
                subject = ModerationSubject(kind: .message, id: body.subject_id, conversationID: body.conversation_id)
            default:
                throw ParleyError.invalidField("subject_type", "must be message or user")
            }
            try await rateLimiter.check(.report, keys: RateLimitKeys(user: user, roles: roles))
            let (report, moderationCase) = try await service.report(subject, category: category, text: text, by: user)
            return try JSONBody.response(JSONValue.object([
                "id": .string(report.id), "subject": .string(report.subject.key), "category": .string(report.category.rawValue),
                "case_id": .string(moderationCase.id), "created_at": .string(Timestamp.format(report.createdAt)),
            ]), status: .created)
        }
        routes.add(.get, "/v1/blocks", policy: .user) { request, context in
            let (user, _) = try context.requireUser()
            let page = try await service.blocks.blocks(by: user, page: try request.pageRequest())
            return try JSONBody.response(Self.page(page.items.map { block in
                .object(["user_id": .string(block.blocked.rawValue), "created_at": .string(Timestamp.format(block.createdAt))])
            }, next: page.nextCursor))
        }
        routes.add(.put, "/v1/blocks/{user_id}", policy: .user) { _, context in
            let (user, _) = try context.requireUser()
            let target = try context.userIDParameter()
            let (block, created) = try await service.blocks.block(target, by: user)
            return try JSONBody.response(JSONValue.object([
                "user_id": .string(block.blocked.rawValue), "created_at": .string(Timestamp.format(block.createdAt)),
            ]), status: created ? .created : .ok)
        }
        routes.add(.delete, "/v1/blocks/{user_id}", policy: .user) { _, context in
            let (user, _) = try context.requireUser()
            try await service.blocks.unblock(try context.userIDParameter(), by: user)
            return Response(status: .noContent)
        }
        routes.add(.get, "/v1/me/strikes", policy: .user) { _, context in
            let (user, _) = try context.requireUser()
            let strikes = try await service.strikes(of: user)
            return try JSONBody.response(Self.page(strikes.map(Self.strike), next: nil))
        }
        routes.add(.post, "/v1/appeals", policy: .user) { request, context in
            let (user, _) = try context.requireUser()
            let body = try await request.decodeBody(AppealBody.self, context: context)
            try Self.checkID(body.strike_id, field: "strike_id")
            guard !body.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ParleyError.invalidField("text", "must not be empty")
            }
            guard body.text.count <= Appeal.maxTextLength else { throw ParleyError.fieldTooLong("text", limit: Appeal.maxTextLength) }
            let appeal = try await service.appeal(strikeID: body.strike_id, text: body.text, by: user)
            return try JSONBody.response(Self.appeal(appeal), status: .created)
        }
    }

    // MARK: Moderators

    func registerModeratorRoutes(on routes: RouteTable) {
        routes.add(.get, "/v1/moderation/cases", policy: Self.moderator) { request, _ in
            let state = try Self.parse(CaseState.self, request.uri.queryParameters["state"].map(String.init) ?? "open", parameter: "state")
            let page = try await service.cases(state: state, page: try request.pageRequest())
            return try JSONBody.response(Self.page(page.items.map(Self.moderationCase), next: page.nextCursor))
        }
        routes.add(.get, "/v1/moderation/cases/{case_id}", policy: Self.moderator) { _, context in
            let detail = try await service.caseDetail(try Self.pathID(context, "case_id"))
            guard case .object(var object) = Self.moderationCase(detail.moderationCase) else { throw ParleyError.caseNotFound("") }
            object["reports"] = .array(detail.reports.map { report in
                .object(["id": .string(report.id), "reporter": .string(report.reporter.rawValue), "category": .string(report.category.rawValue),
                         "text": .string(report.text), "created_at": .string(Timestamp.format(report.createdAt))])
            })
            object["held"] = .array(detail.held.map(Self.held))
            return try JSONBody.response(JSONValue.object(object))
        }
        routes.add(.post, "/v1/moderation/cases/{case_id}/actions", policy: Self.moderator) { request, context in
            let id = try Self.pathID(context, "case_id")
            let body = try await request.decodeBody(ActBody.self, context: context)
            let action = try Self.parse(ModerationAction.self, body.action, field: "action")
            let reason = try Self.reason(body.reason)
            let duration = try Self.duration(body.duration_seconds)
            let item = try await service.act(on: id, action: action, reason: reason, duration: duration, by: try context.requirePrincipal().label)
            return try JSONBody.response(Self.moderationCase(item))
        }
        routes.add(.get, "/v1/moderation/sanctions", policy: Self.moderator) { request, _ in
            let user = try request.uri.queryParameters["user_id"].map { raw throws(ParleyError) in try UserID(validating: String(raw)) }
            let active = try Self.bool(request.uri.queryParameters["active"].map(String.init), parameter: "active") ?? false
            let page = try await service.sanctions(of: user, activeOnly: active, page: try request.pageRequest())
            return try JSONBody.response(Self.page(page.items.map(Self.sanction), next: page.nextCursor))
        }
        routes.add(.post, "/v1/moderation/sanctions", policy: Self.moderator) { request, context in
            let body = try await request.decodeBody(SanctionBody.self, context: context)
            let user = try UserID(validating: body.user_id)
            let kind = try Self.parse(SanctionKind.self, body.kind, field: "kind")
            let reason = try Self.reason(body.reason)
            let duration = try Self.duration(body.duration_seconds)
            guard duration != nil || kind == .ban else { throw ParleyError.missingField("duration_seconds") }
            let sanction = try await service.sanction(user, kind: kind, duration: duration, reason: reason, conversationID: body.conversation_id,
                                                      by: try context.requirePrincipal().label)
            return try JSONBody.response(Self.sanction(sanction), status: .created)
        }
        routes.add(.post, "/v1/moderation/sanctions/{sanction_id}/lift", policy: Self.moderator) { request, context in
            let id = try Self.pathID(context, "sanction_id")
            let body = try await request.decodeBody(ReasonBody.self, context: context)
            let sanction = try await service.liftSanction(id, reason: try Self.reason(body.reason ?? ""), by: try context.requirePrincipal().label)
            return try JSONBody.response(Self.sanction(sanction))
        }
        routes.add(.get, "/v1/moderation/held", policy: Self.moderator) { request, _ in
            let state = try Self.parse(HeldState.self, request.uri.queryParameters["state"].map(String.init) ?? "held", parameter: "state")
            let page = try await service.held(state: state, page: try request.pageRequest())
            return try JSONBody.response(Self.page(page.items.map(Self.held), next: page.nextCursor))
        }
        routes.add(.post, "/v1/moderation/held/{held_id}/approve", policy: Self.moderator) { request, context in
            try await decideHeld(approve: true, request: request, context: context)
        }
        routes.add(.post, "/v1/moderation/held/{held_id}/reject", policy: Self.moderator) { request, context in
            try await decideHeld(approve: false, request: request, context: context)
        }
        routes.add(.get, "/v1/moderation/audit", policy: Self.moderator) { request, _ in
            let subject = request.uri.queryParameters["subject"].map(String.init)
            let actor = request.uri.queryParameters["actor"].map(String.init)
            let pageRequest = try request.pageRequest()
            let page: Page<AuditEntry>
            switch (subject, actor) {
            case (let subject?, nil) where !subject.isEmpty && subject.count <= 300:
                page = try await service.audit.entries(subject: subject, page: pageRequest)
            case (nil, let actor?) where !actor.isEmpty && actor.count <= 300:
                page = try await service.audit.entries(actor: actor, page: pageRequest)
            default:
                throw ParleyError.invalidParameter("subject", "give exactly one of subject or actor")
            }
            return try JSONBody.response(Self.page(page.items.map(Self.audit), next: page.nextCursor))
        }
        routes.add(.get, "/v1/moderation/appeals", policy: Self.moderator) { request, _ in
            let state = try Self.parse(AppealState.self, request.uri.queryParameters["state"].map(String.init) ?? "pending", parameter: "state")
            let page = try await service.appeals(state: state, page: try request.pageRequest())
            return try JSONBody.response(Self.page(page.items.map(Self.appeal), next: page.nextCursor))
        }
        routes.add(.post, "/v1/moderation/appeals/{appeal_id}/decision", policy: Self.moderator) { request, context in
            let id = try Self.pathID(context, "appeal_id")
            let body = try await request.decodeBody(DecisionBody.self, context: context)
            guard body.decision == "grant" || body.decision == "deny" else { throw ParleyError.invalidField("decision", "must be grant or deny") }
            let appeal = try await service.decideAppeal(id, grant: body.decision == "grant", reason: try Self.reason(body.reason),
                                                        by: try context.requirePrincipal().label)
            return try JSONBody.response(Self.appeal(appeal))
        }
        routes.add(.get, "/v1/moderation/rate-limits", policy: Self.admin) { _, _ in
            let policy = limiter?.policy ?? .defaults
            var defaults: [JSONValue] = []
            for action in RateLimitedAction.allCases {
                for kind in RateLimitKeyKind.allCases {
                    guard let limit = policy.rules[action]?[kind] else { continue }
                    defaults.append(.object(["action": .string(action.rawValue), "key": .string(kind.rawValue)].merging(Self.limit(limit)) { a, _ in a }))
                }
            }
            let overrides = try await overrides.all().map { override -> JSONValue in
                .object([
                    "action": .string(override.action.rawValue), "scope": .string(override.scope.rawValue), "target": .string(override.target),
                    "updated_by": .string(override.updatedBy), "updated_at": .string(Timestamp.format(override.updatedAt)),
                ].merging(Self.limit(override.limit)) { a, _ in a })
            }
            return try JSONBody.response(JSONValue.object(["defaults": .array(defaults), "overrides": .array(overrides)]))
        }
        routes.add(.put, "/v1/moderation/rate-limits/overrides", policy: Self.admin) { request, context in
            let body = try await request.decodeBody(OverrideBody.self, context: context)
            let action = try Self.parse(RateLimitedAction.self, body.action, field: "action")
            let scope = try Self.parse(RateLimitOverride.Scope.self, body.scope, field: "scope")
            guard body.period_seconds.isFinite else { throw ParleyError.invalidField("period_seconds", "must be a number") }
            let limit = try RateLimit(count: body.count, per: body.period_seconds, burst: body.burst).validated()
            let override = RateLimitOverride(action: action, scope: scope, target: body.target, limit: limit,
                                             updatedBy: try context.requirePrincipal().label, updatedAt: service.clock.now())
            try await overrides.set(override)
            try await limiter?.reloadOverrides()
            return try JSONBody.response(JSONValue.object([
                "action": .string(action.rawValue), "scope": .string(scope.rawValue), "target": .string(body.target),
            ].merging(Self.limit(limit)) { a, _ in a }))
        }
        routes.add(.delete, "/v1/moderation/rate-limits/overrides/{action}/{scope}/{target}", policy: Self.admin) { _, context in
            let action = try Self.parse(RateLimitedAction.self, context.parameters.get("action") ?? "", parameter: "action")
            let scope = try Self.parse(RateLimitOverride.Scope.self, context.parameters.get("scope") ?? "", parameter: "scope")
            let target = try Self.pathID(context, "target")
            let removed = try await overrides.remove(action: action, scope: scope, target: target, by: try context.requirePrincipal().label,
                                                     at: service.clock.now())
            guard removed else {
                throw ParleyError(.notFound, code: "moderation.override_not_found", message: "No such rate-limit override.")
            }
            try await limiter?.reloadOverrides()
            return Response(status: .noContent)
        }
    }

    func decideHeld(approve: Bool, request: Request, context: ParleyRequestContext) async throws -> Response {
        let id = try Self.pathID(context, "held_id")
        let body = try await request.decodeBody(ReasonBody.self, context: context)
        let reason = body.reason ?? ""
        guard reason.count <= Self.maxReasonLength else { throw ParleyError.fieldTooLong("reason", limit: Self.maxReasonLength) }
        let actor = try context.requirePrincipal().label
        let held = approve ? try await service.approveHeld(id, reason: reason, by: actor) : try await service.rejectHeld(id, reason: reason, by: actor)
        return try JSONBody.response(Self.held(held))
    }

    // MARK: Input

    static func parse<T: RawRepresentable>(_ type: T.Type, _ raw: String, field: String) throws(ParleyError) -> T
        where T.RawValue == String, T: CaseIterable {
        guard let value = T(rawValue: raw) else {
            throw ParleyError.invalidField(field, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    static func parse<T: RawRepresentable>(_ type: T.Type, _ raw: String, parameter: String) throws(ParleyError) -> T
        where T.RawValue == String, T: CaseIterable {
        guard let value = T(rawValue: raw) else {
            throw ParleyError.invalidParameter(parameter, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    static func reason(_ raw: String) throws(ParleyError) -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ParleyError.invalidField("reason", "a moderator action needs a reason") }
        guard trimmed.count <= maxReasonLength else { throw ParleyError.fieldTooLong("reason", limit: maxReasonLength) }
        return trimmed
    }

    static func duration(_ seconds: Int?) throws(ParleyError) -> TimeInterval? {
        guard let seconds else { return nil }
        guard (60...(10 * 365 * 86_400)).contains(seconds) else {
            throw ParleyError.invalidField("duration_seconds", "must be between 60 and 315360000")
        }
        return TimeInterval(seconds)
    }

    static func bool(_ raw: String?, parameter: String) throws(ParleyError) -> Bool? {
        switch raw {
        case nil: nil
        case "true", "1": true
        case "false", "0": false
        default: throw ParleyError.invalidParameter(parameter, "must be true or false")
        }
    }

    /// Ids are opaque, but never empty, long or outside printable ASCII.
    static func checkID(_ id: String, field: String) throws(ParleyError) {
        guard !id.isEmpty, id.utf8.count <= 128, id.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw ParleyError.invalidField(field, "is not a valid id")
        }
    }

    static func pathID(_ context: ParleyRequestContext, _ name: String) throws(ParleyError) -> String {
        let raw = context.parameters.get(name) ?? ""
        guard !raw.isEmpty, raw.utf8.count <= 128, raw.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw ParleyError.invalidParameter(name, "is not a valid id")
        }
        return raw
    }

    // MARK: Output

    static func page(_ items: [JSONValue], next: String?) -> JSONValue {
        .object(["items": .array(items), "next_cursor": next.map { .string($0) } ?? .null])
    }

    static func time(_ date: Date?) -> JSONValue {
        date.map { .string(Timestamp.format($0)) } ?? .null
    }

    static func string(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }

    static func limit(_ limit: RateLimit) -> [String: JSONValue] {
        ["count": .int(limit.count), "period_seconds": .double(limit.period), "burst": .int(limit.burst)]
    }

    static func moderationCase(_ item: ModerationCase) -> JSONValue {
        .object([
            "id": .string(item.id), "subject": .string(item.subject.key), "subject_type": .string(item.subject.kind.rawValue),
            "subject_id": .string(item.subject.id), "conversation_id": string(item.subject.conversationID),
            "user_id": string(item.subject.userID?.rawValue), "state": .string(item.state.rawValue),
            "report_count": .int(item.reportCount), "hold_count": .int(item.holdCount), "flag_count": .int(item.flagCount),
            "reasons": .array(item.reasons.map { .string($0) }), "opened_at": time(item.openedAt), "updated_at": time(item.updatedAt),
            "resolved_at": time(item.resolvedAt), "resolved_by": string(item.resolvedBy), "resolution": string(item.resolution?.rawValue),
            "resolution_reason": string(item.resolutionReason),
        ])
    }

    static func sanction(_ sanction: Sanction) -> JSONValue {
        .object([
            "id": .string(sanction.id), "user_id": .string(sanction.userID.rawValue), "kind": .string(sanction.kind.rawValue),
            "reason": .string(sanction.reason), "created_by": .string(sanction.createdBy), "created_at": time(sanction.createdAt),
            "until": time(sanction.endsAt), "lifted_at": time(sanction.liftedAt), "lifted_by": string(sanction.liftedBy),
            "case_id": string(sanction.caseID), "strike_id": string(sanction.strikeID), "conversation_id": string(sanction.conversationID),
        ])
    }

    static func held(_ held: HeldSubmission) -> JSONValue {
        .object([
            "id": .string(held.id), "kind": .string(held.submission.kind), "actor": .string(held.submission.actor),
            "context": .object(held.submission.context), "body": held.submission.body, "reason": .string(held.reason),
            "state": .string(held.state.rawValue), "case_id": string(held.caseID), "created_at": time(held.createdAt),
            "decided_at": time(held.decidedAt), "decided_by": string(held.decidedBy), "published_ref": string(held.publishedReference),
        ])
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        .object([
            "id": .string(entry.id), "actor": .string(entry.actor), "action": .string(entry.action), "subject": .string(entry.subject),
            "reason": .string(entry.reason), "details": .object(entry.details), "at": time(entry.at),
        ])
    }

    static func appeal(_ appeal: Appeal) -> JSONValue {
        .object([
            "id": .string(appeal.id), "strike_id": .string(appeal.strikeID), "user_id": .string(appeal.userID.rawValue),
            "text": .string(appeal.text), "state": .string(appeal.state.rawValue), "created_at": time(appeal.createdAt),
            "decided_at": time(appeal.decidedAt), "decided_by": string(appeal.decidedBy), "decision_reason": string(appeal.decisionReason),
        ])
    }

    static func strike(_ strike: Strike) -> JSONValue {
        .object([
            "id": .string(strike.id), "action": .string(strike.action), "reason": .string(strike.reason), "case_id": string(strike.caseID),
            "sanction_id": string(strike.sanctionID), "created_at": time(strike.createdAt), "voided_at": time(strike.voidedAt),
        ])
    }
}
