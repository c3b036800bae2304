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
        var text = address.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { text = String(text[text.index(after: text.startIndex)..<close]) }
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        if let v4 = ipv4(text) { return "v4:" + v4.map(String.init).joined(separator: ".") }
        guard let groups = ipv6(text) else { return nil }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff {
            return "v4:\(groups[6] >> 8).\(groups[6] & 0xff).\(groups[7] >> 8).\(groups[7] & 0xff)"
        }
        return "v6:" + groups[0..<4].map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }

    static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func ipv6(_ text: String) -> [UInt16]? {
        guard text.contains(":"), text.count <= 45 else { return nil }
        var text = text
        var tail: [UInt16] = []
        // A trailing dotted quad fills the last two groups.
        if let lastColon = text.lastIndex(of: ":"), text[lastColon...].contains(".") {
            guard let v4 = ipv4(String(text[text.index(after: lastColon)...])) else { return nil }
            tail = [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
            text = String(text[...lastColon])
            if text.hasSuffix(":") && !text.hasSuffix("::") { text.removeLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        let halves = text.components(separatedBy: "::")
        var all: [UInt16]
        switch halves.count {
        case 1:
            guard let full = groups(Substring(halves[0])) else { return nil }
            all = full + tail
            guard all.count == 8 else { return nil }
        case 2:
            guard let head = groups(Substring(halves[0])), let rest = groups(Substring(halves[1])) else { return nil }
            let known = head.count + rest.count + tail.count
            guard known <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - known) + rest + tail
        default:
            return nil
        }
        return all
    }
}
