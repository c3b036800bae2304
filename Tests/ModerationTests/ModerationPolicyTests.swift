import Foundation
import Moderation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The write-path pipeline: sanctions, text screens, flood checks; every automated outcome is audited.
@Suite struct ModerationPolicyTests {
    func message(_ text: String, from user: String = "alice", conversation: String = "c_1", mentions: [String] = []) -> ContentSubmission {
        ContentSubmission(kind: "message", actor: "user:\(user)",
                          context: ["conversation_id": .string(conversation), "mentions": .array(mentions.map { .string($0) })],
                          body: ["text": .string(text)])
    }

    @Test(arguments: TestDatabases.engines)
    func sanctionedAuthorsAreRefusedWithTheirCodeAndUntil(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let policy = ModerationPolicy(service: fixture.service)
            #expect(try await policy.review(message("hello")) == .allow)
            let mute = try await fixture.service.sanction(.alice, kind: .mute, duration: 600, reason: "spam", by: "user:mod")
            do {
                _ = try await policy.review(message("hello"))
                Issue.record("a muted user posted")
            } catch let error as ParleyError {
                #expect(error.code == "moderation.muted")
                #expect(error.details["until"] == .string(Timestamp.format(try #require(mute.endsAt))))
            }
            _ = try await fixture.service.sanction(.alice, kind: .ban, duration: nil, reason: "worse", by: "user:mod")
            await #expect(throws: ParleyError(.forbidden, code: "moderation.banned", message: "You are banned.",
                                              details: ["sanction_id": .string(try await fixture.service.activeSanction(of: .alice)!.id),
                                                        "kind": "ban", "until": .null])) {
                _ = try await policy.review(message("hello"))
            }
            // The platform's own messages are not reviewed.
            #expect(try await policy.review(ContentSubmission(kind: "message", actor: "key:k1", context: [:], body: ["text": "x"])) == .allow)
        }
    }

    /// Within one review run (a connection's pipelined sends) the author's sanctions are read once: every
    /// submission of the run sees the state the first one saw, and the next run reads it again.
    @Test(arguments: TestDatabases.engines)
    func aReviewRunReadsTheAuthorsSanctionsOnceAndTheNextRunAgain(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let policy = ModerationPolicy(service: fixture.service)
            try await ContentReviewRun.$current.withValue(ContentReviewRun()) {
                #expect(try await policy.review(message("one")) == .allow)
                _ = try await fixture.service.sanction(.alice, kind: .mute, duration: 600, reason: "spam", by: "user:mod")
                #expect(try await policy.review(message("two")) == .allow, "judged against the run's first read")
                // Another conversation is another lookup: the mute (everywhere) applies there.
                await #expect(throws: ParleyError.self) { _ = try await policy.review(message("three", conversation: "c_2")) }
            }
            await ContentReviewRun.$current.withValue(ContentReviewRun()) {
                await #expect(throws: ParleyError.self) { _ = try await policy.review(message("four")) }
            }
            // Outside a run, every review reads the sanctions.
            await #expect(throws: ParleyError.self) { _ = try await policy.review(message("five")) }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func screensRewriteHoldOrRejectAndEachOutcomeIsAudited(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            let policy = ModerationPolicy(service: fixture.service, screens: [KeywordScreen()])
            #expect(try await policy.review(message("a MASK here")) == .rewrite(["text": "a **** here"]))
            let verdict = try await policy.review(message("please REVIEW me"))
            guard case .hold(let reason, let reference) = verdict else {
                Issue.record("expected a hold, got \(verdict)")
                return
            }
            #expect(reason == "keyword_review")
            let held = try await fixture.service.held(reference)
            #expect(held.submission.body["text"] == "please REVIEW me")
            #expect(held.author == .alice)
            let heldCase = try await fixture.service.caseDetail(try #require(held.caseID)).moderationCase
            #expect(heldCase.holdCount == 1)
            #expect(heldCase.subject.conversationID == "c_1")
            #expect(try await policy.review(message("REJECT this")) == .reject(code: "moderation.sensitive_word", reason: "contains a forbidden word"))
            #expect(try await fixture.auditActions(actor: automatedActor) == ["rewrite", "hold", "reject"])
            // A kind no publisher handles cannot be held: it is refused instead.
            let edit = ContentSubmission(kind: "message_edit", actor: "user:alice", context: [:], body: ["text": "REVIEW"])
            guard case .reject(let code, _) = try await policy.review(edit) else {
                Issue.record("an unpublishable kind was held")
                return
            }
            #expect(code == "moderation.review_required")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func floodsDuplicatesAndMentionFloodsAreRefusedAndCampaignsHeld(engine: DatabaseEngine) async throws {
        try await ModerationFixture.run(engine) { fixture in
            var settings = FloodSettings()
            settings.conversationLimit = 3
            settings.mentionsPerMessage = 2
            settings.campaignConversations = 3
            let flood = FloodDetector(settings: settings, clock: fixture.clock)
            let policy = ModerationPolicy(service: fixture.service, flood: flood)
            #expect(try await policy.review(message("first message")) == .allow)
            #expect(try await policy.review(message("first message")) == .reject(code: "moderation.duplicate", reason: "You just sent the same text."))
            #expect(try await policy.review(message("second one")) == .allow)
            guard case .reject("moderation.flood", _) = try await policy.review(message("third thing")) else {
                Issue.record("no flood")
                return
            }
            guard case .reject("moderation.mention_flood", _) = try await policy.review(message("hey", from: "bob", mentions: ["a", "b", "c"])) else {
                Issue.record("no mention flood")
                return
            }
            let pitch = "limited offer get your free tokens at example dot com now"
            fixture.clock.advance(by: 120)
            #expect(try await policy.review(message(pitch, from: "carol", conversation: "c_a")) == .allow)
            fixture.clock.advance(by: 61)
            #expect(try await policy.review(message(pitch + "!", from: "carol", conversation: "c_b")) == .allow)
            fixture.clock.advance(by: 61)
            guard case .hold("near_duplicate_campaign", let reference) = try await policy.review(message(pitch, from: "carol", conversation: "c_c")) else {
                Issue.record("no campaign hold")
                return
            }
            #expect(try await fixture.service.held(reference).state == .held)
            #expect(try await fixture.auditActions(actor: automatedActor) == ["reject", "reject", "reject", "hold"])
        }
    }
}
