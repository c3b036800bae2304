import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The SQL of the Moderation tables, one method per statement, always on the caller's connection or
/// transaction. `ModerationService` owns the rules and the transactions; this type owns the rows.
struct ModerationStore: Sendable {
    let engine: DatabaseEngine

    // MARK: Sanctions

    func insert(_ sanction: Sanction, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO moderation_sanctions (id, user_id, kind, reason, created_by, created_at, ends_at, case_id, strike_id,
                conversation_id)
            VALUES (\(bind: sanction.id), \(bind: sanction.userID.rawValue), \(bind: sanction.kind.rawValue), \(bind: sanction.reason),
            \(bind: sanction.createdBy), \(bind: sanction.createdAt.unixMilliseconds), \(bind: sanction.endsAt?.unixMilliseconds),
            \(bind: sanction.caseID), \(bind: sanction.strikeID), \(bind: sanction.conversationID))
            """).run()
    }

    func sanction(_ id: String, forUpdate: Bool = false, on sql: any SQLDatabase) async throws -> Sanction? {
        try await sql.raw("""
            SELECT * FROM moderation_sanctions WHERE id = \(bind: id)\(unsafeRaw: forUpdate ? engine.forUpdate : "")
            """).first().map(Self.decodeSanction)
    }

    func activeSanctions(of user: UserID, at now: Date, on sql: any SQLDatabase) async throws -> [Sanction] {
        try await sql.all(BulkSQL("SELECT * FROM moderation_sanctions WHERE ") + Self.inForce(of: user, at: now) + " ORDER BY id")
            .map(Self.decodeSanction)
    }

    /// The condition on `moderation_sanctions` rows: `user`'s sanctions in force at `now` (not lifted, not ended).
    static func inForce(of user: UserID, at now: Date) -> BulkSQL {
        var condition = BulkSQL("user_id = ")
        condition.bind(user.rawValue)
        condition.append(" AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > ")
        condition.bind(now.unixMilliseconds)
        condition.append(")")
        return condition
    }

    /// Newest first, optionally for one user, optionally only those active at `now`.
    func sanctions(user: UserID?, activeAt now: Date?, page: PageRequest, on sql: any SQLDatabase) async throws -> Page<Sanction> {
        var conditions: [SQLQueryString] = []
        if let cursor = page.cursor { conditions.append("id < \(bind: try Cursor.decode(cursor))") }
        if let user { conditions.append("user_id = \(bind: user.rawValue)") }
        if let now { conditions.append("lifted_at IS NULL AND (ends_at IS NULL OR ends_at > \(bind: now.unixMilliseconds))") }
        let filter: SQLQueryString = conditions.isEmpty ? "" : " WHERE \(conditions.joined(separator: " AND "))"
        let rows = try await sql.raw("SELECT * FROM moderation_sanctions\(filter) ORDER BY id DESC LIMIT \(bind: page.limit + 1)").all()
        return Page(fetched: try rows.map(Self.decodeSanction), limit: page.limit, position: { $0.id })
    }

    func lift(_ id: String, by actor: String, reason: String, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE moderation_sanctions SET lifted_at = \(bind: now.unixMilliseconds), lifted_by = \(bind: actor),
            lift_reason = \(bind: reason) WHERE id = \(bind: id)
            """).run()
    }

    func linkStrike(_ strikeID: String, toSanction sanctionID: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE moderation_sanctions SET strike_id = \(bind: strikeID) WHERE id = \(bind: sanctionID)").run()
    }

    static func decodeSanction(_ row: any SQLRow) throws -> Sanction {
        Sanction(
            id: try row.decode(column: "id", as: String.self),
            userID: UserID(trusted: try row.decode(column: "user_id", as: String.self)),
            kind: SanctionKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .ban,
            reason: try row.decode(column: "reason", as: String.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            endsAt: try row.decodeOptionalDate("ends_at"),
            liftedAt: try row.decodeOptionalDate("lifted_at"),
            liftedBy: try row.decodeOptional("lifted_by", as: String.self),
            liftReason: try row.decodeOptional("lift_reason", as: String.self),
            caseID: try row.decodeOptional("case_id", as: String.self),
            strikeID: try row.decodeOptional("strike_id", as: String.self),
            conversationID: try row.decodeOptional("conversation_id", as: String.self)
        )
    }

    // MARK: Strikes

    func insert(_ strike: Strike, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO moderation_strikes (id, user_id, action, reason, case_id, sanction_id, created_by, created_at)
            VALUES (\(bind: strike.id), \(bind: strike.userID.rawValue), \(bind: strike.action), \(bind: strike.reason),
            \(bind: strike.caseID), \(bind: strike.sanctionID), \(bind: strike.createdBy), \(bind: strike.createdAt.unixMilliseconds))
            """).run()
    }

    func strike(_ id: String, on sql: any SQLDatabase) async throws -> Strike? {
        try await sql.raw("SELECT * FROM moderation_strikes WHERE id = \(bind: id)").first().map(Self.decodeStrike)
    }

    /// Strikes of `user`, newest first.
    func strikes(of user: UserID, on sql: any SQLDatabase) async throws -> [Strike] {
        try await sql.raw("""
            SELECT * FROM moderation_strikes WHERE user_id = \(bind: user.rawValue) ORDER BY created_at DESC, id DESC LIMIT 500
            """).all().map(Self.decodeStrike)
    }

    func liveStrikeCount(of user: UserID, since: Date, on sql: any SQLDatabase) async throws -> Int {
        let row = try await sql.raw("""
            SELECT COUNT(*) AS n FROM moderation_strikes WHERE user_id = \(bind: user.rawValue) AND voided_at IS NULL
            AND created_at > \(bind: since.unixMilliseconds)
            """).first()
        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
    }

    func voidStrike(_ id: String, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE moderation_strikes SET voided_at = \(bind: now.unixMilliseconds) WHERE id = \(bind: id)").run()
    }

    static func decodeStrike(_ row: any SQLRow) throws -> Strike {
        Strike(
            id: try row.decode(column: "id", as: String.self),
            userID: UserID(trusted: try row.decode(column: "user_id", as: String.self)),
            action: try row.decode(column: "action", as: String.self),
            reason: try row.decode(column: "reason", as: String.self),
            caseID: try row.decodeOptional("case_id", as: String.self),
            sanctionID: try row.decodeOptional("sanction_id", as: String.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            voidedAt: try row.decodeOptionalDate("voided_at")
        )
    }

    // MARK: Cases

    func openCase(for subject: String, forUpdate: Bool, on sql: any SQLDatabase) async throws -> ModerationCase? {
        try await sql.raw("""
            SELECT * FROM moderation_cases WHERE subject = \(bind: subject) AND state = 'open'\(unsafeRaw: forUpdate ? engine.forUpdate : "")
            """).first().map(Self.decodeCase)
    }

    func moderationCase(_ id: String, forUpdate: Bool = false, on sql: any SQLDatabase) async throws -> ModerationCase? {
        try await sql.raw("""
            SELECT * FROM moderation_cases WHERE id = \(bind: id)\(unsafeRaw: forUpdate ? engine.forUpdate : "")
            """).first().map(Self.decodeCase)
    }

    func insert(_ item: ModerationCase, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO moderation_cases (id, subject, subject_kind, subject_id, conversation_id, subject_user, state, report_count,
            hold_count, flag_count, reasons, opened_at, updated_at)
            VALUES (\(bind: item.id), \(bind: item.subject.key), \(bind: item.subject.kind.rawValue), \(bind: item.subject.id),
            \(bind: item.subject.conversationID), \(bind: item.subject.userID?.rawValue), \(bind: item.state.rawValue),
            \(bind: item.reportCount), \(bind: item.holdCount), \(bind: item.flagCount),
            \(bind: try JSONValue.array(item.reasons.map { .string($0) }).jsonText()),
            \(bind: item.openedAt.unixMilliseconds), \(bind: item.updatedAt.unixMilliseconds))
            """).run()
    }

    func updateSignals(_ item: ModerationCase, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE moderation_cases SET report_count = \(bind: item.reportCount), hold_count = \(bind: item.holdCount),
            flag_count = \(bind: item.flagCount), reasons = \(bind: try JSONValue.array(item.reasons.map { .string($0) }).jsonText()),
            subject_user = \(bind: item.subject.userID?.rawValue), conversation_id = \(bind: item.subject.conversationID),
            updated_at = \(bind: item.updatedAt.unixMilliseconds) WHERE id = \(bind: item.id)
            """).run()
    }

    func close(_ item: ModerationCase, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE moderation_cases SET state = \(bind: item.state.rawValue), resolved_at = \(bind: item.resolvedAt?.unixMilliseconds),
            resolved_by = \(bind: item.resolvedBy), resolution = \(bind: item.resolution?.rawValue),
            resolution_reason = \(bind: item.resolutionReason), updated_at = \(bind: item.updatedAt.unixMilliseconds)
            WHERE id = \(bind: item.id)
            """).run()
    }

    /// Cases in `state`, oldest first (the queue's order).
    func cases(state: CaseState, page: PageRequest, on sql: any SQLDatabase) async throws -> Page<ModerationCase> {
        let after = try page.cursor.map { cursor throws(ParleyError) in try Cursor.decode(cursor) } ?? ""
        let rows = try await sql.raw("""
            SELECT * FROM moderation_cases WHERE state = \(bind: state.rawValue) AND id > \(bind: after) ORDER BY id LIMIT \(bind: page.limit + 1)
            """).all()
        return Page(fetched: try rows.map(Self.decodeCase), limit: page.limit, position: { $0.id })
    }

    static func decodeCase(_ row: any SQLRow) throws -> ModerationCase {
        let reasons = (try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "reasons", as: String.self).utf8)))
        return ModerationCase(
            id: try row.decode(column: "id", as: String.self),
            subject: ModerationSubject(
                kind: ModerationSubject.Kind(rawValue: try row.decode(column: "subject_kind", as: String.self)) ?? .user,
                id: try row.decode(column: "subject_id", as: String.self),
                conversationID: try row.decodeOptional("conversation_id", as: String.self),
                userID: try row.decodeOptional("subject_user", as: String.self).map(UserID.init(trusted:))
            ),
            state: CaseState(rawValue: try row.decode(column: "state", as: String.self)) ?? .open,
            reportCount: Int(try row.decode(column: "report_count", as: Int64.self)),
            holdCount: Int(try row.decode(column: "hold_count", as: Int64.self)),
            flagCount: Int(try row.decode(column: "flag_count", as: Int64.self)),
            reasons: reasons,
            openedAt: try row.decodeDate("opened_at"),
            updatedAt: try row.decodeDate("updated_at"),
            resolvedAt: try row.decodeOptionalDate("resolved_at"),
            resolvedBy: try row.decodeOptional("resolved_by", as: String.self),
            resolution: try row.decodeOptional("resolution", as: String.self).flatMap(ModerationAction.init(rawValue:)),
            resolutionReason: try row.decodeOptional("resolution_reason", as: String.self)
        )
    }

    // MARK: Reports

    func insert(_ report: Report, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO moderation_reports (id, reporter, subject, category, text, case_id, created_at)
            VALUES (\(bind: report.id), \(bind: report.reporter.rawValue), \(bind: report.subject.key), \(bind: report.category.rawValue),
            \(bind: report.text), \(bind: report.caseID), \(bind: report.createdAt.unixMilliseconds))
            """).run()
    }

    func report(caseID: String, reporter: UserID, on sql: any SQLDatabase) async throws -> (id: String, createdAt: Date, category: String, text: String)? {
        guard let row = try await sql.raw("""
            SELECT * FROM moderation_reports WHERE case_id = \(bind: caseID) AND reporter = \(bind: reporter.rawValue)
            """).first() else { return nil }
        return (try row.decode(column: "id", as: String.self), try row.decodeDate("created_at"),
                try row.decode(column: "category", as: String.self), try row.decode(column: "text", as: String.self))
    }

    func reports(caseID: String, on sql: any SQLDatabase) async throws -> [(id: String, reporter: String, category: String, text: String, at: Date)] {
        try await sql.raw("SELECT * FROM moderation_reports WHERE case_id = \(bind: caseID) ORDER BY id LIMIT 200").all().map { row in
            (try row.decode(column: "id", as: String.self), try row.decode(column: "reporter", as: String.self),
             try row.decode(column: "category", as: String.self), try row.decode(column: "text", as: String.self),
             try row.decodeDate("created_at"))
        }
    }

    // MARK: Held submissions

    func insert(_ held: HeldSubmission, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO moderation_held (id, kind, actor, context, body, reason, state, case_id, created_at)
            VALUES (\(bind: held.id), \(bind: held.submission.kind), \(bind: held.submission.actor),
            \(bind: try JSONValue.object(held.submission.context).jsonText()), \(bind: try held.submission.body.jsonText()),
            \(bind: held.reason), \(bind: held.state.rawValue), \(bind: held.caseID), \(bind: held.createdAt.unixMilliseconds))
            """).run()
    }

    func held(_ id: String, forUpdate: Bool = false, on sql: any SQLDatabase) async throws -> HeldSubmission? {
        try await sql.raw("""
            SELECT * FROM moderation_held WHERE id = \(bind: id)\(unsafeRaw: forUpdate ? engine.forUpdate : "")
            """).first().map(Self.decodeHeld)
    }

    func pendingHeld(caseID: String, on sql: any SQLDatabase) async throws -> [HeldSubmission] {
        try await sql.raw("""
            SELECT * FROM moderation_held WHERE case_id = \(bind: caseID) AND state = 'held' ORDER BY id
            """).all().map(Self.decodeHeld)
    }

    /// Held submissions in `state`, oldest first.
    func held(state: HeldState, page: PageRequest, on sql: any SQLDatabase) async throws -> Page<HeldSubmission> {
        let after = try page.cursor.map { cursor throws(ParleyError) in try Cursor.decode(cursor) } ?? ""
        let rows = try await sql.raw("""
            SELECT * FROM moderation_held WHERE state = \(bind: state.rawValue) AND id > \(bind: after) ORDER BY id LIMIT \(bind: page.limit + 1)
            """).all()
        return Page(fetched: try rows.map(Self.decodeHeld), limit: page.limit, position: { $0.id })
    }

    func decide(_ held: HeldSubmission, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE moderation_held SET state = \(bind: held.state.rawValue), decided_at = \(bind: held.decidedAt?.unixMilliseconds),
            decided_by = \(bind: held.decidedBy), published_ref = \(bind: held.publishedReference) WHERE id = \(bind: held.id)
            """).run()
    }

    static func decodeHeld(_ row: any SQLRow) throws -> HeldSubmission {
        HeldSubmission(
            id: try row.decode(column: "id", as: String.self),
            submission: ContentSubmission(
                kind: try row.decode(column: "kind", as: String.self),
                actor: try row.decode(column: "actor", as: String.self),
                context: try row.decodeJSON("context").objectValue ?? [:],
                body: try row.decodeJSON("body")
            ),
            reason: try row.decode(column: "reason", as: String.self),
            state: HeldState(rawValue: try row.decode(column: "state", as: String.self)) ?? .held,
            caseID: try row.decodeOptional("case_id", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            decidedAt: try row.decodeOptionalDate("decided_at"),
            decidedBy: try row.decodeOptional("decided_by", as: String.self),
            publishedReference: try row.decodeOptional("published_ref", as: String.self)
        )
    }

    // MARK: Appeals

    func insert(_ appeal: Appeal, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO moderation_appeals (id, strike_id, user_id, text, state, created_at)
            VALUES (\(bind: appeal.id), \(bind: appeal.strikeID), \(bind: appeal.userID.rawValue), \(bind: appeal.text),
            \(bind: appeal.state.rawValue), \(bind: appeal.createdAt.unixMilliseconds))
            """).run()
    }

    func appeal(_ id: String, forUpdate: Bool = false, on sql: any SQLDatabase) async throws -> Appeal? {
        try await sql.raw("""
            SELECT * FROM moderation_appeals WHERE id = \(bind: id)\(unsafeRaw: forUpdate ? engine.forUpdate : "")
            """).first().map(Self.decodeAppeal)
    }

    func appealExists(strikeID: String, on sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("SELECT id FROM moderation_appeals WHERE strike_id = \(bind: strikeID)").first() != nil
    }

    /// Appeals in `state`, oldest first.
    func appeals(state: AppealState, page: PageRequest, on sql: any SQLDatabase) async throws -> Page<Appeal> {
        let after = try page.cursor.map { cursor throws(ParleyError) in try Cursor.decode(cursor) } ?? ""
        let rows = try await sql.raw("""
            SELECT * FROM moderation_appeals WHERE state = \(bind: state.rawValue) AND id > \(bind: after) ORDER BY id LIMIT \(bind: page.limit + 1)
            """).all()
        return Page(fetched: try rows.map(Self.decodeAppeal), limit: page.limit, position: { $0.id })
    }

    func decide(_ appeal: Appeal, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE moderation_appeals SET state = \(bind: appeal.state.rawValue), decided_at = \(bind: appeal.decidedAt?.unixMilliseconds),
            decided_by = \(bind: appeal.decidedBy), decision_reason = \(bind: appeal.decisionReason) WHERE id = \(bind: appeal.id)
            """).run()
    }

    static func decodeAppeal(_ row: any SQLRow) throws -> Appeal {
        Appeal(
            id: try row.decode(column: "id", as: String.self),
            strikeID: try row.decode(column: "strike_id", as: String.self),
            userID: UserID(trusted: try row.decode(column: "user_id", as: String.self)),
            text: try row.decode(column: "text", as: String.self),
            state: AppealState(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
            createdAt: try row.decodeDate("created_at"),
            decidedAt: try row.decodeOptionalDate("decided_at"),
            decidedBy: try row.decodeOptional("decided_by", as: String.self),
            decisionReason: try row.decodeOptional("decision_reason", as: String.self)
        )
    }
}
