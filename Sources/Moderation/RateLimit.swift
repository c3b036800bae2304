import Foundation
import ParleyCore

/// A rate: `count` per `period` seconds, allowing bursts of up to `burst` back to back.
public struct RateLimit: Sendable, Equatable, Codable {
    public var count: Int
    public var period: TimeInterval
    public var burst: Int

    public init(count: Int, per period: TimeInterval, burst: Int? = nil) {
        self.count = count
        self.period = period
        self.burst = burst ?? count
    }

    /// Seconds between two requests at the sustained rate (GCRA's emission interval).
    var emissionInterval: TimeInterval { period / Double(count) }

    /// Throws `moderation.invalid_limit` unless count, period and burst are positive and sane.
    public func validated() throws(ParleyError) -> RateLimit {
        guard count >= 1, count <= 1_000_000 else { throw ParleyError.invalidLimit("count must be 1 to 1000000") }
        guard period >= 0.001, period <= 86_400 * 7 else { throw ParleyError.invalidLimit("period must be 0.001 s to 7 days") }
        guard burst >= 1, burst <= 1_000_000 else { throw ParleyError.invalidLimit("burst must be 1 to 1000000") }
        return self
    }
}

/// What a limit is counted per.
public enum RateLimitKeyKind: String, Sendable, Codable, CaseIterable {
    case user, ip, device, conversation
}

/// The default limits per action and key, from the risk-control research (Synapse, Mastodon) adjusted for chat.
public struct RateLimitPolicy: Sendable {
    public var rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]]

    public init(rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]]) {
        self.rules = rules
    }

    /// send_message 20/s burst 40 per user and 60/s per conversation; create_conversation 10/min per user;
    /// upload 30/min per user; report 10/h per user; login 30/min per IP.
    public static let defaults = RateLimitPolicy(rules: [
        .sendMessage: [.user: RateLimit(count: 20, per: 1, burst: 40), .conversation: RateLimit(count: 60, per: 1, burst: 60)],
        .createConversation: [.user: RateLimit(count: 10, per: 60)],
        .upload: [.user: RateLimit(count: 30, per: 60)],
        .report: [.user: RateLimit(count: 10, per: 3600)],
        .login: [.ip: RateLimit(count: 30, per: 60)],
    ])
}

/// An admin's override of an action's per-user limit, for a role or one user.
public struct RateLimitOverride: Sendable, Equatable {
    public enum Scope: String, Sendable, Codable, CaseIterable {
        case role, user
    }

    public var action: RateLimitedAction
    public var scope: Scope
    /// The role's raw value or the user id.
    public var target: String
    public var limit: RateLimit
    public var updatedBy: String
    public var updatedAt: Date

    public init(action: RateLimitedAction, scope: Scope, target: String, limit: RateLimit, updatedBy: String, updatedAt: Date) {
        self.action = action
        self.scope = scope
        self.target = target
        self.limit = limit
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }
}

/// Client addresses as rate-limit keys: IPv4 per address, IPv6 per /64 (one customer's allocation).
public enum IPKey {
    /// `v4:1.2.3.4`, `v6:2001:db8:1:2::/64`, or nil when `address` is not an IP address.
    /// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as IPv4; brackets and zone ids are ignored.
    public static func key(for address: String) -> String? {
        guard let bytes = IPAddress.bytes(address) else { return nil }
        if bytes.count == 4 { return "v4:" + bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        return "v6:" + groups.map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }
}
