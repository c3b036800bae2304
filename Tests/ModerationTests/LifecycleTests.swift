import Foundation
import Moderation
import ParleyCore
import Testing

/// The case, appeal and held-content state machines, without I/O.
@Suite struct LifecycleTests {
    func facts(held: Int = 0, kind: ModerationSubject.Kind = .message, user: Bool = true) -> CaseLifecycle.Facts {
        CaseLifecycle.Facts(caseID: "mc_1", pendingHeld: held, subjectKind: kind, hasUser: user)
    }

    @Test func dismissClosesACaseWithoutHeldContentAndIsRefusedWithIt() throws {
        var open = CaseLifecycle()
        #expect(try open.decide(.dismiss, duration: nil, facts: facts()) == [.close(.dismissed)])
        #expect(open.state == .dismissed)
        #expect(!open.acceptsSignals)
        var holding = CaseLifecycle()
        #expect(throws: ParleyError.self) { try holding.decide(.dismiss, duration: nil, facts: facts(held: 1, kind: .held)) }
        #expect(holding.state == .open)
    }

    @Test func approvePublishesHeldContentAndNeedsSome() throws {
        var lifecycle = CaseLifecycle()
        #expect(try lifecycle.decide(.approve, duration: nil, facts: facts(held: 2, kind: .held)) == [.publishHeld, .close(.resolved)])
        var empty = CaseLifecycle()
        #expect(throws: ParleyError.self) { try empty.decide(.approve, duration: nil, facts: facts()) }
    }

    @Test func removeContentRejectsHeldContentOrRemovesTheMessageAndStrikes() throws {
        var held = CaseLifecycle()
        #expect(try held.decide(.removeContent, duration: nil, facts: facts(held: 1, kind: .held))
            == [.rejectHeld, .strike(.removeContent), .close(.resolved)])
        var message = CaseLifecycle()
        #expect(try message.decide(.removeContent, duration: nil, facts: facts()) == [.removeContent, .strike(.removeContent), .close(.resolved)])
        var user = CaseLifecycle()
        #expect(throws: ParleyError.self) { try user.decide(.removeContent, duration: nil, facts: facts(kind: .user)) }
    }

    @Test func sanctionsNeedAUserAndCarryDefaultDurations() throws {
        var mute = CaseLifecycle()
        #expect(try mute.decide(.mute, duration: nil, facts: facts(kind: .user))
            == [.sanction(.mute, duration: ModerationSettings.defaultMute), .strike(.mute), .close(.resolved)])
        var suspend = CaseLifecycle()
        #expect(try suspend.decide(.suspend, duration: 3600, facts: facts(held: 1, kind: .held))
            == [.rejectHeld, .sanction(.suspend, duration: 3600), .strike(.suspend), .close(.resolved)])
        var ban = CaseLifecycle()
        #expect(try ban.decide(.ban, duration: nil, facts: facts(kind: .user)) == [.sanction(.ban, duration: nil), .strike(.ban), .close(.resolved)])
        var warn = CaseLifecycle()
        #expect(try warn.decide(.warn, duration: nil, facts: facts()) == [.strike(.warn), .close(.resolved)])
        var anonymous = CaseLifecycle()
        #expect(throws: ParleyError.self) { try anonymous.decide(.warn, duration: nil, facts: facts(user: false)) }
    }

    @Test func aDecidedCaseRefusesASecondDecision() throws {
        var lifecycle = CaseLifecycle()
        _ = try lifecycle.decide(.warn, duration: nil, facts: facts())
        do {
            _ = try lifecycle.decide(.ban, duration: nil, facts: facts())
            Issue.record("decided twice")
        } catch {
            #expect(error.code == "moderation.case_closed")
        }
    }

    func strike(at date: Date, user: String = "alice") -> Strike {
        Strike(id: "st_1", userID: UserID(trusted: user), action: "mute", reason: "r", caseID: nil, sanctionID: "sn_1", createdBy: "user:mod",
               createdAt: date, voidedAt: nil)
    }

    @Test func appealsAreFiledByTheUserOnceWithinTheWindow() throws {
        let t0 = Date(unixMilliseconds: 1_767_225_600_000)
        let window: TimeInterval = 14 * 86_400
        let alice = UserID(trusted: "alice")
        #expect(try AppealLifecycle.file(strike: strike(at: t0), by: alice, alreadyAppealed: false, now: t0.addingTimeInterval(window - 1),
                                         window: window).state == .pending)
        #expect(throws: ParleyError.self) {
            try AppealLifecycle.file(strike: strike(at: t0), by: alice, alreadyAppealed: false, now: t0.addingTimeInterval(window + 1), window: window)
        }
        #expect(throws: ParleyError.self) {
            try AppealLifecycle.file(strike: strike(at: t0), by: alice, alreadyAppealed: true, now: t0, window: window)
        }
        #expect(throws: ParleyError.self) {
            try AppealLifecycle.file(strike: strike(at: t0, user: "bob"), by: alice, alreadyAppealed: false, now: t0, window: window)
        }
    }

    @Test func grantingVoidsAndLiftsDenyingChangesNothingAndOnlyOnce() throws {
        var granted = AppealLifecycle(state: .pending)
        #expect(try granted.decide(grant: true, appealID: "ap_1", hasSanction: true) == [.voidStrike, .liftSanction])
        #expect(granted.state == .granted)
        #expect(throws: ParleyError.self) { try granted.decide(grant: false, appealID: "ap_1", hasSanction: true) }
        var warnOnly = AppealLifecycle(state: .pending)
        #expect(try warnOnly.decide(grant: true, appealID: "ap_2", hasSanction: false) == [.voidStrike])
        var denied = AppealLifecycle(state: .pending)
        #expect(try denied.decide(grant: false, appealID: "ap_3", hasSanction: true) == [])
        #expect(denied.state == .denied)
    }

    @Test func heldContentMovesOnlyFromHeld() throws {
        #expect(try HeldState.held.transition(to: .approved, id: "h") == .approved)
        #expect(try HeldState.held.transition(to: .rejected, id: "h") == .rejected)
        #expect(throws: ParleyError.self) { try HeldState.approved.transition(to: .rejected, id: "h") }
        #expect(throws: ParleyError.self) { try HeldState.rejected.transition(to: .approved, id: "h") }
        #expect(throws: ParleyError.self) { try HeldState.held.transition(to: .held, id: "h") }
    }
}
