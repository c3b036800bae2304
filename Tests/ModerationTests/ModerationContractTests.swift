import Events
import Foundation
import Moderation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The moderation stores' contract (audit, blocks, sanctions, strikes, cases, reports, held content, appeals),
/// run on every engine.
@Suite struct ModerationContractTests {
    @Test(arguments: TestDatabases.engines)
    func theAuditLogPagesNewestFirstBySubjectAndByActor(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            for index in 0..<7 {
                try await fixture.service.audit.record(actor: index % 2 == 0 ? "user:mod1" : "user:mod2", action: "note", subject: "user:alice",
                                                       reason: "r\(index)", details: ["n": .int(index)], at: fixture.clock.now())
            }
            try await fixture.service.audit.record(actor: "user:mod1", action: "note", subject: "user:bob", reason: "other", at: fixture.clock.now())
            var reasons: [String] = []
            var cursor: String?
            repeat {
                let page = try await fixture.service.audit.entries(subject: "user:alice", page: try PageRequest(limit: 3, cursor: cursor))
                reasons += page.items.map(\.reason)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(reasons == (0..<7).reversed().map { "r\($0)" })
            let byMod1 = try await fixture.service.audit.entries(actor: "user:mod1", page: PageRequest(limit: 50)).items
            #expect(byMod1.count == 5)
            #expect(byMod1.first?.subject == "user:bob")
            #expect(byMod1.last?.details["n"] == 0)
            await #expect(throws: ParleyError.self) {
                _ = try await fixture.service.audit.entries(subject: "user:alice", page: try PageRequest(limit: 3, cursor: Cursor.encode("x")))
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func blocksAreOneWayIdempotentAndAudited(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let blocks = fixture.service.blocks
            #expect(try await blocks.block(.bob, by: .alice).created)
            #expect(!(try await blocks.block(.bob, by: .alice).created))
            _ = try await blocks.block(.carol, by: .alice)
            #expect(try await blocks.eitherBlocks(.alice, .bob))
            #expect(try await blocks.eitherBlocks(.bob, .alice))
            #expect(!(try await blocks.eitherBlocks(.bob, .carol)))
            #expect(try await blocks.blockers(of: .bob, among: [.alice, .carol]) == [.alice])
            #expect(try await blocks.blockers(of: .alice, among: [.bob]) == [])
            let page = try await blocks.blocks(by: .alice, page: PageRequest(limit: 1))
            #expect(page.items.map(\.blocked) == [.bob])
            let rest = try await blocks.blocks(by: .alice, page: PageRequest(limit: 1, cursor: page.nextCursor))
            #expect(rest.items.map(\.blocked) == [.carol])
            #expect(try await blocks.unblock(.bob, by: .alice))
            #expect(!(try await blocks.unblock(.bob, by: .alice)))
            #expect(!(try await blocks.eitherBlocks(.alice, .bob)))
            await #expect(throws: ParleyError.self) { _ = try await blocks.block(.alice, by: .alice) }
            #expect(try await fixture.auditActions(subject: "user:bob") == ["block", "unblock"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func sanctionsExpireCanBeLiftedOnceAndAreAudited(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            let mute = try await service.sanction(.alice, kind: .mute, duration: 3600, reason: "spam", by: "user:mod")
            #expect(mute.strikeID != nil)
            #expect(try await service.activeSanction(of: .alice)?.kind == .mute)
            let ban = try await service.sanction(.alice, kind: .ban, duration: nil, reason: "worse", by: "user:mod")
            #expect(try await service.activeSanction(of: .alice)?.id == ban.id)
            _ = try await service.liftSanction(ban.id, reason: "mistake", by: "user:mod")
            await #expect(throws: ParleyError.self) { _ = try await service.liftSanction(ban.id, reason: "again", by: "user:mod") }
            #expect(try await service.activeSanction(of: .alice)?.id == mute.id)
            fixture.clock.advance(by: 3601)
            #expect(try await service.activeSanction(of: .alice) == nil)
            #expect(try await service.sanctions(of: .alice, activeOnly: true, page: PageRequest()).items.isEmpty)
            #expect(try await service.sanctions(of: .alice, page: PageRequest()).items.map(\.id) == [ban.id, mute.id])
            #expect(try await fixture.auditActions(subject: "user:alice") == ["sanction.mute", "strike", "sanction.ban", "strike", "sanction.lift"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func threeStrikesSuspendForADayAutomatically(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            for index in 0..<3 {
                let (_, item) = try await service.report(.user(.alice), category: .harassment, text: "", by: UserID(trusted: "r\(index)"))
                _ = try await service.act(on: item.id, action: .warn, reason: "warning \(index)", by: "user:mod")
            }
            let suspension = try #require(try await service.activeSanction(of: .alice))
            #expect(suspension.kind == .suspend)
            #expect(suspension.createdBy == automatedActor)
            #expect(suspension.endsAt == fixture.clock.now().addingTimeInterval(86_400))
            #expect(try await service.strikes(of: .alice).count == 3)
            #expect(try await fixture.auditActions(actor: automatedActor) == ["sanction.suspend"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func reportsOfOneSubjectMergeIntoOneOpenCaseAndAReporterCountsOnce(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            let message = ModerationSubject(kind: .message, id: "m_alice_1")
            let (first, item) = try await service.report(message, category: .spam, text: "ads", by: .bob)
            let (again, sameCase) = try await service.report(message, category: .hate, text: "dup", by: .bob)
            #expect(again.id == first.id)
            #expect(sameCase.reportCount == 1)
            let (_, merged) = try await service.report(message, category: .hate, text: "", by: .carol)
            #expect(merged.id == item.id)
            #expect(merged.reportCount == 2)
            #expect(merged.reasons == ["spam", "hate"])
            #expect(merged.subject.userID == .alice)
            #expect(merged.subject.conversationID == "c_1")
            await #expect(throws: ParleyError.self) { _ = try await service.report(message, category: .spam, text: "", by: .alice) }
            await #expect(throws: ParleyError.self) {
                _ = try await service.report(ModerationSubject(kind: .message, id: "m_hidden"), category: .spam, text: "", by: .bob)
            }
            await #expect(throws: ParleyError.self) {
                _ = try await service.report(message, category: .spam, text: String(repeating: "x", count: 1001), by: .carol)
            }
            _ = try await service.act(on: item.id, action: .dismiss, reason: "fine", by: "user:mod")
            let (_, fresh) = try await service.report(message, category: .spam, text: "", by: .bob)
            #expect(fresh.id != item.id)
            #expect(try await service.cases(state: .open, page: PageRequest()).items.map(\.id) == [fresh.id])
            #expect(try await service.cases(state: .dismissed, page: PageRequest()).items.map(\.id) == [item.id])
            let detail = try await service.caseDetail(item.id)
            #expect(detail.reports.count == 2)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func everyModeratorActionLandsInTheAuditLog(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            var expected: [String] = []
            for action in ModerationAction.allCases where action != .approve {
                let id = "m_alice_\(action.rawValue)"
                let (_, item) = try await service.report(ModerationSubject(kind: .message, id: id), category: .spam, text: "", by: .bob)
                let closed = try await service.act(on: item.id, action: action, reason: "because \(action.rawValue)", duration: nil, by: "user:mod")
                #expect(closed.state == (action == .dismiss ? .dismissed : .resolved))
                #expect(closed.resolution == action)
                let lines = try await fixture.auditActions(subject: "message:\(id)")
                #expect(lines.last == "case.\(action.rawValue)")
                expected.append("case.\(action.rawValue)")
                await #expect(throws: ParleyError.self) { _ = try await service.act(on: item.id, action: .warn, reason: "again", by: "user:mod") }
            }
            let byModerator = try await fixture.auditActions(actor: "user:mod").filter { $0.hasPrefix("case.") }
            #expect(byModerator == expected)
            #expect(fixture.remover.removed.withLock { $0.map(\.id) } == ["m_alice_remove_content"])
            #expect(fixture.remover.removed.withLock { $0.first?.conversationID } == "c_1")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func heldContentIsApprovedThroughItsPublisherOrRejectedOnce(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            let submission = ContentSubmission(kind: "message", actor: "user:alice", context: ["conversation_id": "c_9"], body: ["text": "hi"])
            let held = try await service.hold(submission, reason: "keyword_review")
            #expect(held.state == .held)
            #expect(try await service.held(state: .held, page: PageRequest()).items.map(\.id) == [held.id])
            let approved = try await service.approveHeld(held.id, reason: "ok", by: "user:mod")
            #expect(approved.state == .approved)
            #expect(approved.publishedReference == "m_published_1")
            #expect(fixture.publisher.published.withLock { $0 } == [submission])
            await #expect(throws: ParleyError.self) { _ = try await service.rejectHeld(held.id, reason: "late", by: "user:mod") }
            await #expect(throws: ParleyError.self) { _ = try await service.approveHeld(held.id, reason: "twice", by: "user:mod") }
            #expect(fixture.publisher.count == 1)
            let heldCase = try #require(held.caseID)
            #expect(try await service.caseDetail(heldCase).moderationCase.state == .resolved)

            let other = try await service.hold(submission, reason: "campaign")
            _ = try await service.rejectHeld(other.id, reason: "spam", by: "user:mod")
            #expect(try await service.held(state: .rejected, page: PageRequest()).items.map(\.id) == [other.id])
            #expect(try await fixture.auditActions(subject: "held:\(held.id)") == ["hold", "held.approve"])
            #expect(try await fixture.auditActions(subject: "held:\(other.id)") == ["hold", "held.reject"])

            let unpublishable = try await service.hold(ContentSubmission(kind: "comment", actor: "user:alice", context: [:], body: [:]), reason: "r")
            await #expect(throws: ParleyError.self) { _ = try await service.approveHeld(unpublishable.id, reason: "", by: "user:mod") }
            #expect(try await service.held(unpublishable.id).state == .held)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func approvingAHeldCasePublishesAndRemovingItRejects(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            let submission = ContentSubmission(kind: "message", actor: "user:alice", context: [:], body: ["text": "x"])
            let first = try await service.hold(submission, reason: "r")
            await #expect(throws: ParleyError.self) {
                _ = try await service.act(on: try #require(first.caseID), action: .dismiss, reason: "no", by: "user:mod")
            }
            _ = try await service.act(on: try #require(first.caseID), action: .approve, reason: "fine", by: "user:mod")
            #expect(try await service.held(first.id).state == .approved)
            #expect(fixture.publisher.count == 1)
            let second = try await service.hold(submission, reason: "r")
            let closed = try await service.act(on: try #require(second.caseID), action: .mute, reason: "bad", by: "user:mod")
            #expect(closed.subject.userID == .alice)
            #expect(try await service.held(second.id).state == .rejected)
            #expect(try await service.activeSanction(of: .alice)?.kind == .mute)
            #expect(fixture.publisher.count == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func appealsAreOncePerStrikeWithinTheWindowAndGrantingLifts(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let service = fixture.service
            let sanction = try await service.sanction(.alice, kind: .suspend, duration: 7 * 86_400, reason: "abuse", by: "user:mod")
            let strikeID = try #require(sanction.strikeID)
            await #expect(throws: ParleyError.self) { _ = try await service.appeal(strikeID: strikeID, text: "not me", by: .bob) }
            let appeal = try await service.appeal(strikeID: strikeID, text: "I was hacked", by: .alice)
            await #expect(throws: ParleyError.self) { _ = try await service.appeal(strikeID: strikeID, text: "again", by: .alice) }
            #expect(try await service.appeals(state: .pending, page: PageRequest()).items.map(\.id) == [appeal.id])
            let granted = try await service.decideAppeal(appeal.id, grant: true, reason: "verified", by: "user:mod")
            #expect(granted.state == .granted)
            await #expect(throws: ParleyError.self) { _ = try await service.decideAppeal(appeal.id, grant: false, reason: "x", by: "user:mod") }
            #expect(try await service.activeSanction(of: .alice) == nil)
            #expect(try await service.strikes(of: .alice).first?.voidedAt != nil)

            let mute = try await service.sanction(.alice, kind: .mute, duration: 3600, reason: "spam", by: "user:mod")
            fixture.clock.advance(by: 15 * 86_400)
            await #expect(throws: ParleyError.self) { _ = try await service.appeal(strikeID: try #require(mute.strikeID), text: "late", by: .alice) }
            #expect(try await fixture.auditActions(subject: "user:alice")
                == ["sanction.suspend", "strike", "appeal.file", "sanction.lift", "appeal.grant", "sanction.mute", "strike"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func rateLimitOverridesApplyPerUserAndRoleAndAreAudited(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let store = RateLimitOverrideStore(database: fixture.database, audit: fixture.service.audit)
            let limiter = GCRARateLimiter(policy: RateLimitPolicy(rules: [.report: [.user: RateLimit(count: 1, per: 3600)]]),
                                          clock: fixture.clock, overrides: store)
            let now = fixture.clock.now()
            try await store.set(RateLimitOverride(action: .report, scope: .role, target: "moderator", limit: RateLimit(count: 3, per: 3600),
                                                  updatedBy: "user:admin", updatedAt: now))
            try await store.set(RateLimitOverride(action: .report, scope: .user, target: "carol", limit: RateLimit(count: 2, per: 3600),
                                                  updatedBy: "user:admin", updatedAt: now))
            await #expect(throws: ParleyError.self) {
                try await store.set(RateLimitOverride(action: .report, scope: .role, target: "root", limit: RateLimit(count: 1, per: 1),
                                                      updatedBy: "user:admin", updatedAt: now))
            }
            await #expect(throws: ParleyError.self) {
                try await store.set(RateLimitOverride(action: .report, scope: .user, target: "x", limit: RateLimit(count: 0, per: 1),
                                                      updatedBy: "user:admin", updatedAt: now))
            }
            try await limiter.reloadOverrides()
            func allowed(_ user: UserID, roles: Set<Role> = [.user]) async -> Int {
                var count = 0
                for _ in 0..<5 {
                    do { try await limiter.check(.report, keys: RateLimitKeys(user: user, roles: roles)); count += 1 } catch {}
                }
                return count
            }
            #expect(await allowed(.alice) == 1)
            #expect(await allowed(.bob, roles: [.user, .moderator]) == 3)
            #expect(await allowed(.carol, roles: [.moderator]) == 2)  // the user's own override wins over the role's
            #expect(try await store.all().count == 2)
            #expect(try await store.remove(action: .report, scope: .user, target: "carol", by: "user:admin", at: now))
            #expect(!(try await store.remove(action: .report, scope: .user, target: "carol", by: "user:admin", at: now)))
            #expect(try await fixture.auditActions(actor: "user:admin")
                == ["rate_limit.override_set", "rate_limit.override_set", "rate_limit.override_removed"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func onlyAutomatedChecksCountAsFilterHits(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [ModerationService.migrations, EventLog.migrations]) { database in
            let events = EventLog(database: database, ids: SortableIDGenerator())
            let audit = AuditLog(database: database, ids: SortableIDGenerator(), outbox: events)
            for action in ["rewrite", "reject", "hold"] {
                try await audit.record(actor: automatedActor, action: action, subject: "user:alice", reason: "spam", at: Date())
                // The same words from a person are not a filter's hit.
                try await audit.record(actor: "moderator:mia", action: action, subject: "user:alice", reason: "spam", at: Date())
            }
            let hits = try await events.read(after: 0, limit: 100, types: ["moderation.filter_hit"])
            #expect(hits.count == 3)
            #expect(hits.allSatisfy { $0.actor == "user:alice" })
        }
    }
}
