/// Who has a live connection (WebSocket or SSE) on any node right now.
///
/// Answers are at most a second or two old: nodes publish their connected users in batches. Callers use it
/// to skip work for people who are looking at the app (a push for a message they already see), never to
/// decide what is stored.
public protocol PresenceDirectory: Sendable {
    /// Of `users`, those with at least one live connection on a node that is alive.
    func onlineUsers(among users: [UserID]) async throws -> Set<UserID>
}
