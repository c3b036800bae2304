import Foundation
import ParleyCore
import Synchronization

/// Rate limits by the generic cell rate algorithm: one "theoretical arrival time" per (action, key), which
/// admits a request when it is no more than `burst` emission intervals ahead of now. A refused request
/// consumes nothing, and a request passes only when every key it is limited by has room.
///
/// State is in memory and **per node**: with several Parley nodes each enforces its own share, so the
/// effective limit is up to N times the configured one. It is bounded: at `maxKeys` entries, keys whose
/// allowance is full again (and so carry no information) are dropped, then the oldest. Overrides come from
/// `RateLimitOverrideStore` and are re-read every `overrideRefresh` seconds (and at once via `reloadOverrides`).
/// The clock is injected, so tests move time by hand.
public final class GCRARateLimiter: ActionRateLimiter {
    public let policy: RateLimitPolicy
    let clock: any WallClock
    let overrides: RateLimitOverrideStore?
    let maxKeys: Int
    let overrideRefresh: TimeInterval

    struct Snapshot {
        var roles: [RateLimitedAction: [Role: RateLimit]] = [:]
        var users: [RateLimitedAction: [String: RateLimit]] = [:]
    }

    struct State {
        var arrivals: [String: Double] = [:]
        var snapshot = Snapshot()
        var loadedAt: Date?
    }

    private let state = Mutex(State())

    public init(policy: RateLimitPolicy = .defaults, clock: any WallClock, overrides: RateLimitOverrideStore? = nil,
                maxKeys: Int = 100_000, overrideRefresh: TimeInterval = 30) {
        self.policy = policy
        self.clock = clock
        self.overrides = overrides
        self.maxKeys = max(16, maxKeys)
        self.overrideRefresh = overrideRefresh
    }

    /// How many keys are tracked now (for tests and metrics).
    public var trackedKeys: Int { state.withLock { $0.arrivals.count } }

    /// Re-reads the override table now.
    public func reloadOverrides() async throws {
        guard let overrides else { return }
        var snapshot = Snapshot()
        for override in try await overrides.all() {
            switch override.scope {
            case .role:
                if let role = Role(rawValue: override.target) { snapshot.roles[override.action, default: [:]][role] = override.limit }
            case .user:
                snapshot.users[override.action, default: [:]][override.target] = override.limit
            }
        }
        let now = clock.now()
        state.withLock {
            $0.snapshot = snapshot
            $0.loadedAt = now
        }
    }

    /// The per-user limit of `action` for this user: their own override, else the most generous override among
    /// their roles, else the default.
    func userLimit(_ action: RateLimitedAction, keys: RateLimitKeys, default limit: RateLimit, snapshot: Snapshot) -> RateLimit {
        if let user = keys.user, let own = snapshot.users[action]?[user.rawValue] { return own }
        let roleLimits = keys.roles.compactMap { snapshot.roles[action]?[$0] }
        return roleLimits.max { (Double($0.count) / $0.period, $0.burst) < (Double($1.count) / $1.period, $1.burst) } ?? limit
    }

    public func check(_ action: RateLimitedAction, keys: RateLimitKeys) async throws {
        guard let rules = policy.rules[action], !rules.isEmpty else { return }
        let now = clock.now()
        if overrides != nil {
            let stale = state.withLock { state in state.loadedAt.map { now.timeIntervalSince($0) >= overrideRefresh || now < $0 } ?? true }
            if stale { try await reloadOverrides() }
        }
        let t = now.timeIntervalSince1970
        let denied: (kind: RateLimitKeyKind, wait: Double)? = state.withLock { state in
            var planned: [(String, Double)] = []
            var worst: (kind: RateLimitKeyKind, wait: Double)?
            for kind in RateLimitKeyKind.allCases {
                guard var limit = rules[kind], let key = key(kind, keys) else { continue }
                if kind == .user { limit = userLimit(action, keys: keys, default: limit, snapshot: state.snapshot) }
                let interval = limit.emissionInterval
                let arrival = max(state.arrivals["\(action.rawValue)|\(key)"] ?? t, t)
                let next = arrival + interval
                let allowAt = next - Double(limit.burst) * interval
                if t < allowAt - 1e-9 {
                    let wait = allowAt - t
                    if worst == nil || wait > worst!.wait { worst = (kind, wait) }
                } else {
                    planned.append(("\(action.rawValue)|\(key)", next))
                }
            }
            if worst != nil { return worst }
            for (key, next) in planned { state.arrivals[key] = next }
            if state.arrivals.count > maxKeys { evict(&state.arrivals, now: t) }
            return nil
        }
        if let denied {
            throw ParleyError.rateLimited(action, key: denied.kind.rawValue, retryAfter: max(1, Int(denied.wait.rounded(.up))))
        }
    }

    func key(_ kind: RateLimitKeyKind, _ keys: RateLimitKeys) -> String? {
        switch kind {
        case .user: keys.user.map { "user:\($0.rawValue)" }
        case .ip: keys.ip.map { "ip:" + (IPKey.key(for: $0) ?? "raw:" + String($0.prefix(64))) }
        case .device: keys.device.map { "device:" + String($0.prefix(128)) }
        case .conversation: keys.conversation.map { "conversation:" + String($0.prefix(128)) }
        }
    }

    /// Drops keys whose allowance is full again (equivalent to absent), then the ones that refill soonest,
    /// down to 90% of the bound.
    func evict(_ arrivals: inout [String: Double], now: Double) {
        arrivals = arrivals.filter { $0.value > now }
        let target = maxKeys * 9 / 10
        guard arrivals.count > target else { return }
        for (key, _) in arrivals.sorted(by: { $0.value < $1.value }).prefix(arrivals.count - target) {
            arrivals.removeValue(forKey: key)
        }
    }
}
