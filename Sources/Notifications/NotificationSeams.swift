import Foundation
import ParleyCore

/// Notifications' view of the platform's users, which Identity owns. The composition root implements it
/// over Identity's user store; Notifications never reads Identity's tables.
public protocol NotificationUserDirectory: Sendable {
    /// Active users with ids greater than `after` (all when nil), in id order, at most `limit`; fewer than
    /// `limit` only when no more exist. How a broadcast to `all` walks every user in chunks.
    func activeUsers(after: UserID?, limit: Int) async throws -> [UserID]
    /// The ids among `ids` that name existing, active users.
    func activeUsers(among ids: [UserID]) async throws -> Set<UserID>
}

/// A frame for a user's live connections.
public enum NotificationFrame: Sendable, Equatable {
    /// A new inbox entry, as the inbox lists it (`InboxEntry` rendered for the user).
    case notification(InboxEntry)
    /// The user's inbox counts changed.
    case badge(InboxCounts)
}

/// Pushes notification frames to a user's live connections on this node: the WebSocket hub (frames
/// `notification` and `badge`) and the SSE streams. An accelerator only: a client that misses a frame
/// finds the entry in its inbox, and an SSE client resumes with `Last-Event-ID`.
public protocol NotificationPusher: Sendable {
    /// Of `users`, those with a live connection on this node (so frames are rendered only for them).
    func connectedUsers(among users: [UserID]) -> Set<UserID>
    /// Queues the frame on every live connection of `user` on this node; never blocks on the network.
    func push(_ frame: NotificationFrame, to user: UserID)
}

/// Several pushers as one (the WebSocket hub and the SSE broadcaster).
public struct CompositeNotificationPusher: NotificationPusher {
    let pushers: [any NotificationPusher]

    public init(_ pushers: [any NotificationPusher]) {
        self.pushers = pushers
    }

    public func connectedUsers(among users: [UserID]) -> Set<UserID> {
        pushers.reduce(into: Set<UserID>()) { $0.formUnion($1.connectedUsers(among: users)) }
    }

    public func push(_ frame: NotificationFrame, to user: UserID) {
        for pusher in pushers { pusher.push(frame, to: user) }
    }
}
