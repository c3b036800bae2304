import Foundation
import ParleyCore

public enum AppealState: String, Sendable, Codable, CaseIterable {
    case pending, granted, denied
}

/// A user's appeal against one moderator action (a strike).
public struct Appeal: Sendable, Equatable {
    public static let maxTextLength = 2000

    public var id: String
    public var strikeID: String
    public var userID: UserID
    public var text: String
    public var state: AppealState
    public var createdAt: Date
    public var decidedAt: Date?
    public var decidedBy: String?
    public var decisionReason: String?
}

/// What granting or denying an appeal requires the I/O code to do.
public enum AppealEffect: Sendable, Equatable {
    case voidStrike
    case liftSanction
}

/// The appeal rules as a value-type state machine.
///
/// - A user may appeal only their own strike, within `window` of it, once per strike.
/// - pending → granted (void the strike, lift its sanction) or pending → denied (nothing changes); nothing else.
public struct AppealLifecycle: Sendable, Equatable {
    public private(set) var state: AppealState

    public init(state: AppealState) {
        self.state = state
    }

    /// Checks that a strike may be appealed now; returns the lifecycle of the new appeal.
    public static func file(strike: Strike, by user: UserID, alreadyAppealed: Bool, now: Date, window: TimeInterval) throws(ParleyError)
        -> AppealLifecycle {
        guard strike.userID == user else { throw ParleyError.strikeNotFound(strike.id) }
        guard !alreadyAppealed else { throw ParleyError.alreadyAppealed(strike.id) }
        guard now.timeIntervalSince(strike.createdAt) <= window else {
            throw ParleyError.appealWindowPassed(strike.id, days: Int((window / 86_400).rounded()))
        }
        return AppealLifecycle(state: .pending)
    }

    public mutating func decide(grant: Bool, appealID: String, hasSanction: Bool) throws(ParleyError) -> [AppealEffect] {
        guard state == .pending else { throw ParleyError.appealAlreadyDecided(appealID, state: state) }
        if grant {
            state = .granted
            return hasSanction ? [.voidStrike, .liftSanction] : [.voidStrike]
        }
        state = .denied
        return []
    }
}
