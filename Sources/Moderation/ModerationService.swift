import Foundation
import Logging
import ParleyCore
import ParleyStorage
import SQLKit

/// Risk control's durable side: sanctions, strikes, the moderation queue (cases merged from reports, holds
/// and flags), held content, appeals, blocks and the audit log. Every action writes an audit line in the
/// same transaction as its change.
///
/// Calls into other contexts (publishing held content, removing a message) happen outside any Moderation
/// transaction, before the decision is recorded: if recording then fails, the content was still published
/// or removed, and the case stays open for another decision.
public struct ModerationService: Sendable {
    public let database: Database
    public let audit: AuditLog
    public let blocks: BlockList
    public let clock: any WallClock
    public let settings: ModerationSettings
    let ids: any IDGenerator
    let store: ModerationStore
    let publishers: [any HeldContentPublisher]
    let remover: (any ContentRemover)?
    let resolver: (any ReportedContentResolver)?
    let logger: Logger

    /// - Parameters:
    ///   - publishers: publish approved held content, chosen by submission kind.
    ///   - remover: takes down content a moderator removes (Messaging's recall); without it `remove_content` on a
    ///     message fails with `moderation.no_content_remover`.
    ///   - resolver: finds a reported message's author and checks the reporter can see it; without it reports of
    ///     messages are accepted as given and name no author.
    public init(database: Database, ids: any IDGenerator, clock: any WallClock, settings: ModerationSettings = ModerationSettings(),
                publishers: [any HeldContentPublisher] = [], remover: (any ContentRemover)? = nil,
                resolver: (any ReportedContentResolver)? = nil, outbox: (any EventOutbox)? = nil,
                logger: Logger = Logger(label: "parley.moderation")) {
        self.database = database
        self.ids = ids
        self.clock = clock
        self.settings = settings
        self.publishers = publishers
        self.remover = remover
        self.resolver = resolver
        self.logger = logger
        store = ModerationStore(engine: database.engine)
        audit = AuditLog(database: database, ids: ids, outbox: outbox)
        blocks = BlockList(database: database, audit: audit, clock: clock)
    }

    public static var migrations: MigrationGroup { ModerationMigrations.group }

    // MARK: Sanctions

    /// The sanction that stops `user` from posting in `conversationID` now (the most severe active one that
    /// holds everywhere or in that conversation), or nil. Without a conversation only global sanctions count.
    public func activeSanction(of user: UserID, in conversationID: String? = nil) async throws -> Sanction? {
        try await store.activeSanctions(of: user, at: clock.now(), on: database.sql)
            .filter { $0.applies(in: conversationID) }
            .max { $0.kind.severity < $1.kind.severity }
    }

    /// Imposes a sanction (with a strike the user may appeal). `duration` nil means until lifted. A mute may be
    /// limited to one conversation; suspensions and bans always hold everywhere.
    public func sanction(_ user: UserID, kind: SanctionKind, duration: TimeInterval?, reason: String, conversationID: String? = nil,
                         by actor: String) async throws -> Sanction {
        if let duration, duration <= 0 { throw ParleyError.invalidField("duration_seconds", "must be positive") }
        if conversationID != nil, kind != .mute { throw ParleyError.invalidField("conversation_id", "only a mute can be limited to a conversation") }
        if let conversationID, conversationID.isEmpty || conversationID.utf8.count > 100 {
            throw ParleyError.invalidField("conversation_id", "1 to 100 characters")
        }
        let now = clock.now()
        return try await database.transaction { sql in
            let sanction = try await imposeSanction(user, kind: kind, duration: duration, reason: reason, caseID: nil,
                                                    conversationID: conversationID, by: actor, at: now, on: sql)
            let strike = try await recordStrike(user, action: kind.rawValue, reason: reason, caseID: nil, sanctionID: sanction.id,
                                                by: actor, at: now, on: sql)
            var result = sanction
            result.strikeID = strike.id
            return result
        }
    }

    /// Lifts a sanction early; lifting twice is refused with `moderation.sanction_lifted`.
    public func liftSanction(_ id: String, reason: String, by actor: String) async throws -> Sanction {
        let now = clock.now()
        return try await database.transaction { sql in
            guard var sanction = try await store.sanction(id, forUpdate: true, on: sql) else { throw ParleyError.sanctionNotFound(id) }
            guard sanction.liftedAt == nil else { throw ParleyError.sanctionAlreadyLifted(id) }
            try await store.lift(id, by: actor, reason: reason, at: now, on: sql)
            try await audit.record(actor: actor, action: "sanction.lift", subject: "user:\(sanction.userID.rawValue)", reason: reason,
                                   details: ["sanction_id": .string(id), "kind": .string(sanction.kind.rawValue)], at: now, on: sql)
            sanction.liftedAt = now
            sanction.liftedBy = actor
            sanction.liftReason = reason
            return sanction
        }
    }

    public func sanction(_ id: String) async throws -> Sanction {
        guard let sanction = try await store.sanction(id, on: database.sql) else { throw ParleyError.sanctionNotFound(id) }
        return sanction
    }

    /// Sanctions newest first, optionally of one user, optionally only the active ones.
    public func sanctions(of user: UserID? = nil, activeOnly: Bool = false, page: PageRequest) async throws -> Page<Sanction> {
        try await store.sanctions(user: user, activeAt: activeOnly ? clock.now() : nil, page: page, on: database.sql)
    }

    /// A user's strikes, newest first (at most 500).
    public func strikes(of user: UserID) async throws -> [Strike] {
        try await store.strikes(of: user, on: database.sql)
    }

    func imposeSanction(_ user: UserID, kind: SanctionKind, duration: TimeInterval?, reason: String, caseID: String?,
                        conversationID: String? = nil, by actor: String, at now: Date, on sql: any SQLDatabase) async throws -> Sanction {
        let sanction = Sanction(id: ids.next(prefix: "sn_"), userID: user, kind: kind, reason: reason, createdBy: actor, createdAt: now,
                                endsAt: duration.map { now.addingTimeInterval($0) }, caseID: caseID, conversationID: conversationID)
        try await store.insert(sanction, on: sql)
        var details: [String: JSONValue] = ["sanction_id": .string(sanction.id), "until": sanction.endsAt.map { .string(Timestamp.format($0)) } ?? .null]
        if let caseID { details["case_id"] = .string(caseID) }
        if let conversationID { details["conversation_id"] = .string(conversationID) }
        try await audit.record(actor: actor, action: "sanction.\(kind.rawValue)", subject: "user:\(user.rawValue)", reason: reason,
                               details: details, at: now, on: sql)
        return sanction
    }

    /// Records a strike and applies the strike rule (see `Strike`): at every multiple of `strikesForSuspension`
    /// live strikes the user is suspended automatically, unless already suspended or banned.
    func recordStrike(_ user: UserID, action: String, reason: String, caseID: String?, sanctionID: String?, by actor: String,
                      at now: Date, on sql: any SQLDatabase) async throws -> Strike {
        let strike = Strike(id: ids.next(prefix: "st_"), userID: user, action: action, reason: reason, caseID: caseID, sanctionID: sanctionID,
                            createdBy: actor, createdAt: now, voidedAt: nil)
        try await store.insert(strike, on: sql)
        if let sanctionID { try await store.linkStrike(strike.id, toSanction: sanctionID, on: sql) }
        let count = try await store.liveStrikeCount(of: user, since: now.addingTimeInterval(-settings.strikeMemory), on: sql)
        try await audit.record(actor: actor, action: "strike", subject: "user:\(user.rawValue)", reason: reason,
                               details: ["strike_id": .string(strike.id), "for": .string(action), "live_strikes": .int(count)], at: now, on: sql)
        if settings.strikesForSuspension > 0, count > 0, count % settings.strikesForSuspension == 0 {
            let active = try await store.activeSanctions(of: user, at: now, on: sql)
            if !active.contains(where: { $0.kind == .suspend || $0.kind == .ban }) {
                _ = try await imposeSanction(user, kind: .suspend, duration: settings.automaticSuspension,
                                             reason: "\(count) strikes", caseID: caseID, by: automatedActor, at: now, on: sql)
            }
        }
        return strike
    }

    // MARK: Reports, holds and flags: the queue's inputs

    /// Files a user's report about a message or a user; it merges into the subject's open case (or opens one).
    /// Reporting the same open case twice returns the first report.
    public func report(_ subject: ModerationSubject, category: ReportCategory, text: String, by reporter: UserID) async throws
        -> (report: Report, moderationCase: ModerationCase) {
        guard text.count <= Report.maxTextLength else { throw ParleyError.fieldTooLong("text", limit: Report.maxTextLength) }
        var subject = subject
        switch subject.kind {
        case .user:
            let target = try UserID(validating: subject.id)
            guard target != reporter else { throw ParleyError.cannotReportSelf }
            subject.userID = target
            subject.conversationID = nil
        case .message:
            if let resolver {
                guard let content = try await resolver.resolve(subject, reporter: reporter) else {
                    throw ParleyError.reportedContentNotFound(subject.key)
                }
                subject.userID = content.author
                subject.conversationID = content.conversationID ?? subject.conversationID
            } else {
                subject.userID = nil
            }
            if subject.userID == reporter { throw ParleyError.cannotReportSelf }
        case .held:
            throw ParleyError.invalidField("subject_type", "must be message or user")
        }
        let now = clock.now()
        let subjectValue = subject
        return try await withSignalRetry {
            try await database.transaction { sql in
                let moderationCase = try await signal(subjectValue, .report, reason: category.rawValue, at: now, on: sql,
                                                      countable: { item in
                    try await store.report(caseID: item.id, reporter: reporter, on: sql) == nil
                })
                if let existing = try await store.report(caseID: moderationCase.id, reporter: reporter, on: sql) {
                    let report = Report(id: existing.id, reporter: reporter, subject: subjectValue,
                                        category: ReportCategory(rawValue: existing.category) ?? category, text: existing.text,
                                        caseID: moderationCase.id, createdAt: existing.createdAt)
                    return (report, moderationCase)
                }
                let report = Report(id: ids.next(prefix: "rp_"), reporter: reporter, subject: subjectValue, category: category, text: text,
                                    caseID: moderationCase.id, createdAt: now)
                try await store.insert(report, on: sql)
                try await audit.record(actor: "user:\(reporter.rawValue)", action: "report", subject: subjectValue.key, reason: category.rawValue,
                                       details: ["report_id": .string(report.id), "case_id": .string(moderationCase.id)], at: now, on: sql)
                return (report, moderationCase)
            }
        }
    }

    /// Raises an automatic flag about a subject (flood, campaign, ...); merges into its open case. Audited.
    @discardableResult
    public func flag(_ subject: ModerationSubject, reason: String, details: [String: JSONValue] = [:]) async throws -> ModerationCase {
        let now = clock.now()
        return try await withSignalRetry {
            try await database.transaction { sql in
                let moderationCase = try await signal(subject, .flag, reason: reason, at: now, on: sql)
                var auditDetails = details
                auditDetails["case_id"] = .string(moderationCase.id)
                try await audit.record(actor: automatedActor, action: "flag", subject: subject.key, reason: reason, details: auditDetails,
                                       at: now, on: sql)
                return moderationCase
            }
        }
    }

    /// Stores a submission a policy held back, opens its case and audits the hold. `actor` is who held it
    /// (`system:moderation` for the automated pipeline).
    public func hold(_ submission: ContentSubmission, reason: String, details: [String: JSONValue] = [:],
                     actor: String = automatedActor) async throws -> HeldSubmission {
        let now = clock.now()
        let id = ids.next(prefix: "mh_")
        return try await withSignalRetry {
            try await database.transaction { sql in
                let author = userID(fromLabel: submission.actor)
                let subject = ModerationSubject(kind: .held, id: id, conversationID: submission.context["conversation_id"]?.stringValue,
                                                userID: author)
                let moderationCase = try await signal(subject, .hold, reason: reason, at: now, on: sql)
                let held = HeldSubmission(id: id, submission: submission, reason: reason, state: .held, caseID: moderationCase.id,
                                          createdAt: now)
                try await store.insert(held, on: sql)
                var auditDetails = details
                auditDetails["case_id"] = .string(moderationCase.id)
                auditDetails["kind"] = .string(submission.kind)
                auditDetails["author"] = .string(submission.actor)
                try await audit.record(actor: actor, action: "hold", subject: subject.key, reason: reason, details: auditDetails, at: now, on: sql)
                return held
            }
        }
    }

    enum Signal { case report, hold, flag }

    /// Merges a signal into the subject's open case, or opens one.
    func signal(_ subject: ModerationSubject, _ kind: Signal, reason: String, at now: Date, on sql: any SQLDatabase,
                countable: (ModerationCase) async throws -> Bool = { _ in true }) async throws -> ModerationCase {
        if var existing = try await store.openCase(for: subject.key, forUpdate: true, on: sql) {
            guard try await countable(existing) else { return existing }
            switch kind {
            case .report: existing.reportCount += 1
            case .hold: existing.holdCount += 1
            case .flag: existing.flagCount += 1
            }
            if !existing.reasons.contains(reason) { existing.reasons.append(reason) }
            if existing.subject.userID == nil { existing.subject.userID = subject.userID }
            if existing.subject.conversationID == nil { existing.subject.conversationID = subject.conversationID }
            existing.updatedAt = now
            try await store.updateSignals(existing, on: sql)
            return existing
        }
        let created = ModerationCase(id: ids.next(prefix: "mc_"), subject: subject, state: .open,
                                     reportCount: kind == .report ? 1 : 0, holdCount: kind == .hold ? 1 : 0, flagCount: kind == .flag ? 1 : 0,
                                     reasons: [reason], openedAt: now, updatedAt: now)
        try await store.insert(created, on: sql)
        return created
    }

    /// Two first signals about one subject may race to open its case; the unique index lets one win and the
    /// other, retried, merges into it.
    func withSignalRetry<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ParleyError {
            throw error
        } catch {
            return try await body()
        }
    }

    // MARK: The queue

    /// Cases in `state`, oldest first.
    public func cases(state: CaseState, page: PageRequest) async throws -> Page<ModerationCase> {
        try await store.cases(state: state, page: page, on: database.sql)
    }

    /// A case with its reports and its held submissions.
    public func caseDetail(_ id: String) async throws -> CaseDetail {
        guard let item = try await store.moderationCase(id, on: database.sql) else { throw ParleyError.caseNotFound(id) }
        let reports = try await store.reports(caseID: id, on: database.sql).map { row in
            Report(id: row.id, reporter: UserID(trusted: row.reporter), subject: item.subject,
                   category: ReportCategory(rawValue: row.category) ?? .other, text: row.text, caseID: id, createdAt: row.at)
        }
        let held = try await database.sql.raw("SELECT * FROM moderation_held WHERE case_id = \(bind: id) ORDER BY id LIMIT 200").all()
            .map(ModerationStore.decodeHeld)
        return CaseDetail(moderationCase: item, reports: reports, held: held)
    }

    /// Decides a case (see `CaseLifecycle` for the rules), executes the effects and audits the decision.
    /// `duration` applies to `mute`, `suspend` and `ban` (defaults: a day, a week, permanent).
    public func act(on caseID: String, action: ModerationAction, reason: String, duration: TimeInterval? = nil,
                    by actor: String) async throws -> ModerationCase {
        if let duration, duration <= 0 { throw ParleyError.invalidField("duration_seconds", "must be positive") }
        guard let current = try await store.moderationCase(caseID, on: database.sql) else { throw ParleyError.caseNotFound(caseID) }
        let pending = try await store.pendingHeld(caseID: caseID, on: database.sql)
        var lifecycle = CaseLifecycle(state: current.state)
        let effects = try lifecycle.decide(action, duration: duration, facts: .init(
            caseID: caseID, pendingHeld: pending.count, subjectKind: current.subject.kind, hasUser: current.subject.userID != nil))
        // Effects that call other contexts run first, outside our transaction.
        var publishedReferences: [String: String] = [:]
        for effect in effects {
            switch effect {
            case .publishHeld:
                for held in pending { publishedReferences[held.id] = try await publisher(for: held.submission.kind).publish(held.submission) }
            case .removeContent:
                guard let remover else { throw ParleyError.noRemover() }
                try await remover.remove(current.subject, actor: actor)
            default:
                continue
            }
        }
        let now = clock.now()
        let published = publishedReferences
        return try await database.transaction { sql in
            guard var item = try await store.moderationCase(caseID, forUpdate: true, on: sql) else { throw ParleyError.caseNotFound(caseID) }
            guard item.state == .open else { throw ParleyError.caseClosed(caseID, state: item.state) }
            var sanctionID: String?
            var details: [String: JSONValue] = ["case_id": .string(caseID), "action": .string(action.rawValue)]
            for effect in effects {
                switch effect {
                case .publishHeld:
                    for held in try await store.pendingHeld(caseID: caseID, on: sql) {
                        var decided = held
                        decided.state = try held.state.transition(to: .approved, id: held.id)
                        decided.decidedAt = now
                        decided.decidedBy = actor
                        decided.publishedReference = published[held.id]
                        try await store.decide(decided, on: sql)
                        try await audit.record(actor: actor, action: "held.approve", subject: "held:\(held.id)", reason: reason,
                                               details: ["case_id": .string(caseID), "published": published[held.id].map { .string($0) } ?? .null],
                                               at: now, on: sql)
                    }
                case .rejectHeld:
                    for held in try await store.pendingHeld(caseID: caseID, on: sql) {
                        var decided = held
                        decided.state = try held.state.transition(to: .rejected, id: held.id)
                        decided.decidedAt = now
                        decided.decidedBy = actor
                        try await store.decide(decided, on: sql)
                        try await audit.record(actor: actor, action: "held.reject", subject: "held:\(held.id)", reason: reason,
                                               details: ["case_id": .string(caseID)], at: now, on: sql)
                    }
                case .removeContent:
                    try await audit.record(actor: actor, action: "content.remove", subject: item.subject.key, reason: reason,
                                           details: ["case_id": .string(caseID)], at: now, on: sql)
                case .sanction(let kind, let duration):
                    guard let user = item.subject.userID else { throw ParleyError.actionNeedsUser(action) }
                    let sanction = try await imposeSanction(user, kind: kind, duration: duration, reason: reason, caseID: caseID, by: actor,
                                                            at: now, on: sql)
                    sanctionID = sanction.id
                    details["sanction_id"] = .string(sanction.id)
                case .strike(let strikeAction):
                    guard let user = item.subject.userID else { throw ParleyError.actionNeedsUser(action) }
                    let strike = try await recordStrike(user, action: strikeAction.rawValue, reason: reason, caseID: caseID,
                                                        sanctionID: sanctionID, by: actor, at: now, on: sql)
                    details["strike_id"] = .string(strike.id)
                case .close(let state):
                    item.state = state
                    item.resolvedAt = now
                    item.resolvedBy = actor
                    item.resolution = action
                    item.resolutionReason = reason
                    item.updatedAt = now
                    try await store.close(item, on: sql)
                }
            }
            try await audit.record(actor: actor, action: "case.\(action.rawValue)", subject: item.subject.key, reason: reason,
                                   details: details, at: now, on: sql)
            return item
        }
    }

    func publisher(for kind: String) throws(ParleyError) -> any HeldContentPublisher {
        guard let publisher = publishers.first(where: { $0.kinds.contains(kind) }) else { throw ParleyError.noPublisher(kind: kind) }
        return publisher
    }

    /// Whether a held submission of `kind` could ever be approved.
    public func canPublish(kind: String) -> Bool {
        publishers.contains { $0.kinds.contains(kind) }
    }

    // MARK: Held content

    /// Held submissions in `state`, oldest first.
    public func held(state: HeldState, page: PageRequest) async throws -> Page<HeldSubmission> {
        try await store.held(state: state, page: page, on: database.sql)
    }

    public func held(_ id: String) async throws -> HeldSubmission {
        guard let held = try await store.held(id, on: database.sql) else { throw ParleyError.heldNotFound(id) }
        return held
    }

    /// Publishes a held submission through its kind's `HeldContentPublisher` and records the result; closes its
    /// case once nothing in it is pending. Publishing failures leave it held.
    public func approveHeld(_ id: String, reason: String, by actor: String) async throws -> HeldSubmission {
        let held = try await held(id)
        _ = try held.state.transition(to: .approved, id: id)
        let reference = try await publisher(for: held.submission.kind).publish(held.submission)
        return try await decideHeld(id, to: .approved, reference: reference, reason: reason, by: actor)
    }

    /// Rejects a held submission: it never enters the log. Closes its case once nothing in it is pending.
    public func rejectHeld(_ id: String, reason: String, by actor: String) async throws -> HeldSubmission {
        try await decideHeld(id, to: .rejected, reference: nil, reason: reason, by: actor)
    }

    func decideHeld(_ id: String, to state: HeldState, reference: String?, reason: String, by actor: String) async throws -> HeldSubmission {
        let now = clock.now()
        return try await database.transaction { sql in
            guard var held = try await store.held(id, forUpdate: true, on: sql) else { throw ParleyError.heldNotFound(id) }
            held.state = try held.state.transition(to: state, id: id)
            held.decidedAt = now
            held.decidedBy = actor
            held.publishedReference = reference
            try await store.decide(held, on: sql)
            try await audit.record(actor: actor, action: state == .approved ? "held.approve" : "held.reject", subject: "held:\(id)",
                                   reason: reason, details: ["published": reference.map { .string($0) } ?? .null], at: now, on: sql)
            if let caseID = held.caseID, var item = try await store.moderationCase(caseID, forUpdate: true, on: sql), item.state == .open,
               try await store.pendingHeld(caseID: caseID, on: sql).isEmpty {
                item.state = .resolved
                item.resolvedAt = now
                item.resolvedBy = actor
                item.resolution = state == .approved ? .approve : .removeContent
                item.resolutionReason = reason
                item.updatedAt = now
                try await store.close(item, on: sql)
            }
            return held
        }
    }

    // MARK: Appeals

    /// Files the sanctioned user's appeal against one of their strikes: within the appeal window, once per strike.
    public func appeal(strikeID: String, text: String, by user: UserID) async throws -> Appeal {
        guard text.count <= Appeal.maxTextLength else { throw ParleyError.fieldTooLong("text", limit: Appeal.maxTextLength) }
        let now = clock.now()
        do {
            return try await database.transaction { sql in
                guard let strike = try await store.strike(strikeID, on: sql) else { throw ParleyError.strikeNotFound(strikeID) }
                let lifecycle = try AppealLifecycle.file(strike: strike, by: user,
                                                         alreadyAppealed: try await store.appealExists(strikeID: strikeID, on: sql),
                                                         now: now, window: settings.appealWindow)
                let appeal = Appeal(id: ids.next(prefix: "ap_"), strikeID: strikeID, userID: user, text: text, state: lifecycle.state,
                                    createdAt: now)
                try await store.insert(appeal, on: sql)
                try await audit.record(actor: "user:\(user.rawValue)", action: "appeal.file", subject: "user:\(user.rawValue)", reason: "",
                                       details: ["appeal_id": .string(appeal.id), "strike_id": .string(strikeID)], at: now, on: sql)
                return appeal
            }
        } catch let error as ParleyError {
            throw error
        } catch {
            // Two appeals racing for one strike: the unique index refuses the second.
            if try await store.appealExists(strikeID: strikeID, on: database.sql) { throw ParleyError.alreadyAppealed(strikeID) }
            throw error
        }
    }

    /// Appeals in `state`, oldest first.
    public func appeals(state: AppealState, page: PageRequest) async throws -> Page<Appeal> {
        try await store.appeals(state: state, page: page, on: database.sql)
    }

    /// Grants (voids the strike, lifts its sanction) or denies an appeal.
    public func decideAppeal(_ id: String, grant: Bool, reason: String, by actor: String) async throws -> Appeal {
        let now = clock.now()
        return try await database.transaction { sql in
            guard var appeal = try await store.appeal(id, forUpdate: true, on: sql) else { throw ParleyError.appealNotFound(id) }
            let strike = try await store.strike(appeal.strikeID, on: sql)
            var lifecycle = AppealLifecycle(state: appeal.state)
            let effects = try lifecycle.decide(grant: grant, appealID: id, hasSanction: strike?.sanctionID != nil)
            for effect in effects {
                switch effect {
                case .voidStrike:
                    try await store.voidStrike(appeal.strikeID, at: now, on: sql)
                case .liftSanction:
                    if let sanctionID = strike?.sanctionID, let sanction = try await store.sanction(sanctionID, forUpdate: true, on: sql),
                       sanction.liftedAt == nil {
                        try await store.lift(sanctionID, by: actor, reason: "appeal granted: \(reason)", at: now, on: sql)
                        try await audit.record(actor: actor, action: "sanction.lift", subject: "user:\(appeal.userID.rawValue)", reason: reason,
                                               details: ["sanction_id": .string(sanctionID), "appeal_id": .string(id)], at: now, on: sql)
                    }
                }
            }
            appeal.state = lifecycle.state
            appeal.decidedAt = now
            appeal.decidedBy = actor
            appeal.decisionReason = reason
            try await store.decide(appeal, on: sql)
            try await audit.record(actor: actor, action: grant ? "appeal.grant" : "appeal.deny", subject: "user:\(appeal.userID.rawValue)",
                                   reason: reason, details: ["appeal_id": .string(id), "strike_id": .string(appeal.strikeID)], at: now, on: sql)
            return appeal
        }
    }
}

/// A case as a moderator reviews it.
public struct CaseDetail: Sendable, Equatable {
    public var moderationCase: ModerationCase
    public var reports: [Report]
    public var held: [HeldSubmission]
}
