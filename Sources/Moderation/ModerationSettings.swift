import Foundation

/// The tunable rules of moderation, with the defaults the documentation states.
public struct ModerationSettings: Sendable {
    public static let defaultMute: TimeInterval = 86_400
    public static let defaultSuspension: TimeInterval = 7 * 86_400

    /// How long after an action its user may appeal it (14 days).
    public var appealWindow: TimeInterval = 14 * 86_400
    /// Every time a user's live strike count reaches a multiple of this, they are suspended automatically.
    public var strikesForSuspension = 3
    /// How long the automatic suspension lasts (one day).
    public var automaticSuspension: TimeInterval = 86_400
    /// How far back strikes count towards the automatic suspension (90 days).
    public var strikeMemory: TimeInterval = 90 * 86_400

    public init() {}
}
