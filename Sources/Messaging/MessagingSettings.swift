import Foundation

/// The tunable rules of messaging.
public struct MessagingSettings: Sendable {
    /// How long after sending a message its sender may edit it.
    public var editWindow: TimeInterval = 24 * 3600
    /// How long after sending a message its sender may recall it (group owners and admins: any time).
    public var recallWindow: TimeInterval = 2 * 3600
    /// The most members a group may have.
    public var maxGroupMembers: Int = 10_000
    /// Receipts are pushed live to other members only in conversations up to this size; larger groups
    /// query who read what on demand, so a read never becomes a storm.
    public var liveReceiptMaxMembers: Int = 50
    /// A resume that would replay more feed entries than this gets `resync_required` instead.
    public var maxResumeEntries: Int = 2000
    /// How long feed entries are kept. A device away for longer resyncs instead of resuming; the
    /// conversations' own logs are kept regardless.
    public var feedRetention: TimeInterval = 30 * 86_400

    public init() {}
}
