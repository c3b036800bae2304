import Foundation
import ParleyCore

/// Something the I/O code must do to carry out a case decision, in order.
public enum CaseEffect: Sendable, Equatable {
    /// Publish every pending held submission of the case.
    case publishHeld
    /// Reject every pending held submission of the case (it never enters the log).
    case rejectHeld
    /// Remove the reported content through the wired `ContentRemover`.
    case removeContent
    /// Impose a sanction on the subject's user; `duration` nil means until lifted.
    case sanction(SanctionKind, duration: TimeInterval?)
    /// Record a strike against the subject's user (linked to the sanction imposed just before, if any).
    case strike(ModerationAction)
    /// Close the case in this state.
    case close(CaseState)
}

/// The rules of a moderation case as a value-type state machine: it decides what a decision means and
/// returns effects; `ModerationService` executes them in one place.
///
/// - Signals (reports, holds, flags) merge only into an open case.
/// - `dismiss` is refused while the case holds content awaiting a decision (approve or remove it instead).
/// - `approve` needs held content; `remove_content` needs held content or a reported message.
/// - `warn`, `mute`, `suspend`, `ban` need a user behind the subject; they reject pending held content.
/// - Every action except `dismiss` and `approve` records a strike when there is a user.
/// - A decided case is closed for good: a second decision is refused with `moderation.case_closed`.
public struct CaseLifecycle: Sendable, Equatable {
    public private(set) var state: CaseState

    public init(state: CaseState = .open) {
        self.state = state
    }

    /// Whether a new report, hold or flag about the subject merges into this case.
    public var acceptsSignals: Bool { state == .open }

    /// What the case knows when a moderator decides.
    public struct Facts: Sendable, Equatable {
        public var caseID: String
        public var pendingHeld: Int
        public var subjectKind: ModerationSubject.Kind
        public var hasUser: Bool

        public init(caseID: String, pendingHeld: Int, subjectKind: ModerationSubject.Kind, hasUser: Bool) {
            self.caseID = caseID
            self.pendingHeld = pendingHeld
            self.subjectKind = subjectKind
            self.hasUser = hasUser
        }
    }

    /// Applies a decision: moves to the closed state and returns the effects to execute, or throws why it cannot.
    public mutating func decide(_ action: ModerationAction, duration: TimeInterval?, facts: Facts) throws(ParleyError) -> [CaseEffect] {
        guard state == .open else { throw ParleyError.caseClosed(facts.caseID, state: state) }
        var effects: [CaseEffect] = []
        switch action {
        case .dismiss:
            guard facts.pendingHeld == 0 else { throw ParleyError.caseHasHeldContent(facts.caseID) }
            state = .dismissed
            return [.close(.dismissed)]
        case .approve:
            guard facts.pendingHeld > 0 else { throw ParleyError.nothingToApprove(facts.caseID) }
            state = .resolved
            return [.publishHeld, .close(.resolved)]
        case .removeContent:
            if facts.pendingHeld > 0 {
                effects.append(.rejectHeld)
            } else if facts.subjectKind == .message {
                effects.append(.removeContent)
            } else {
                throw ParleyError.nothingToRemove(facts.caseID)
            }
            if facts.hasUser { effects.append(.strike(.removeContent)) }
        case .warn, .mute, .suspend, .ban:
            guard facts.hasUser else { throw ParleyError.actionNeedsUser(action) }
            if facts.pendingHeld > 0 { effects.append(.rejectHeld) }
            switch action {
            case .mute: effects.append(.sanction(.mute, duration: duration ?? ModerationSettings.defaultMute))
            case .suspend: effects.append(.sanction(.suspend, duration: duration ?? ModerationSettings.defaultSuspension))
            case .ban: effects.append(.sanction(.ban, duration: duration))
            default: break
            }
            effects.append(.strike(action))
        }
        state = .resolved
        effects.append(.close(.resolved))
        return effects
    }
}
