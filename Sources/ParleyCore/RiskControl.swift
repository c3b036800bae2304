/// Rate limits by action, implemented by Moderation and called by the transports (which know the
/// client's IP and device), wired by the composition root.
public protocol ActionRateLimiter: Sendable {
    /// Throws `ParleyError` of kind `.rateLimited` (code `moderation.rate_limited`, `retryAfter` set)
    /// when `action` is over its limit for any of the keys.
    func check(_ action: RateLimitedAction, keys: RateLimitKeys) async throws

    /// Checks requests of one action in order, exactly as `check` would one after another (a refused request
    /// consumes nothing); one outcome per request, nil where it passes. The gateway checks a connection's
    /// pipelined sends this way: a limiter that counts in a shared database answers all of them in one round trip.
    func checkEach(_ action: RateLimitedAction, keys: [RateLimitKeys]) async -> [(any Error)?]
}

extension ActionRateLimiter {
    public func checkEach(_ action: RateLimitedAction, keys: [RateLimitKeys]) async -> [(any Error)?] {
        var outcomes: [(any Error)?] = []
        for each in keys {
            do {
                try await check(action, keys: each)
                outcomes.append(nil)
            } catch {
                outcomes.append(error)
            }
        }
        return outcomes
    }
}

/// The actions Parley limits. Each has a default limit, overridable per role and per user.
public enum RateLimitedAction: String, Sendable, CaseIterable, Codable {
    case sendMessage = "send_message"
    case createConversation = "create_conversation"
    case upload
    case report
    case login
}

/// Who is acting, from every angle a limit can be keyed on.
public struct RateLimitKeys: Sendable, Equatable {
    public var user: UserID?
    public var roles: Set<Role>
    /// The client's address; IPv6 addresses are limited per /64.
    public var ip: String?
    public var device: String?
    public var conversation: String?

    public init(user: UserID? = nil, roles: Set<Role> = [], ip: String? = nil, device: String? = nil, conversation: String? = nil) {
        self.user = user
        self.roles = roles
        self.ip = ip
        self.device = device
        self.conversation = conversation
    }
}

/// Never limits: the default when nothing is wired.
public struct NoRateLimits: ActionRateLimiter {
    public init() {}
    public func check(_ action: RateLimitedAction, keys: RateLimitKeys) async throws {}
}

/// Who blocked whom, as Messaging needs to know it (no direct messages, no mentions from someone you blocked).
public protocol BlockRelations: Sendable {
    /// The users among `users` who have blocked `user`.
    func blockers(of user: UserID, among users: [UserID]) async throws -> Set<UserID>
    /// Whether either user blocked the other.
    func eitherBlocks(_ first: UserID, _ second: UserID) async throws -> Bool
}

/// Nobody blocks anybody: the default when nothing is wired.
public struct NoBlocks: BlockRelations {
    public init() {}
    public func blockers(of user: UserID, among users: [UserID]) async throws -> Set<UserID> { [] }
    public func eitherBlocks(_ first: UserID, _ second: UserID) async throws -> Bool { false }
}
