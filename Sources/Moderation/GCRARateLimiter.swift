import Foundation
import Logging
import ParleyCore
import ParleyStorage
import Synchronization

/// Rate limits by the generic cell rate algorithm: one "theoretical arrival time" per (action, key), which
/// admits a request when it is no more than `burst` emission intervals ahead of now. A refused request
/// consumes nothing, and a request passes only when every key it is limited by has room.
///
/// Where the arrival times live: in memory on one node (SQLite, one process), or, given `sharedIn` (PostgreSQL,
/// several nodes), in the database every node uses, so a limit holds for the whole cluster however a client's
/// connections are spread (one round trip per check; this node's own count still refuses first without one).
/// In memory they are bounded: at `maxKeys` entries, keys whose allowance is full again (and so carry no
/// information) are dropped, then the ones that refill soonest. Overrides come from `RateLimitOverrideStore` and
/// are re-read every `overrideRefresh` seconds (and at once via `reloadOverrides`). The clock is injected, so tests
/// move time by hand.
public final class GCRARateLimiter: ActionRateLimiter {
    public let policy: RateLimitPolicy
    let clock: any WallClock
    let overrides: RateLimitOverrideStore?
    let overrideRefresh: TimeInterval
    private let local: LocalRateCells
    private let shared: SharedRateCells?
    private let logger: Logger

    struct Snapshot {
        var roles: [RateLimitedAction: [Role: RateLimit]] = [:]
        var users: [RateLimitedAction: [String: RateLimit]] = [:]
    }

    struct State {
        var snapshot = Snapshot()
        var loadedAt: Date?
    }

    private let state = Mutex(State())
    private let fallbackWarning = ThrottledWarning()

    /// `sharedIn`: the PostgreSQL database every node uses, to count across nodes (nil: this node counts alone).
    public init(policy: RateLimitPolicy = .defaults, clock: any WallClock, overrides: RateLimitOverrideStore? = nil,
                maxKeys: Int = 100_000, overrideRefresh: TimeInterval = 30, sharedIn database: Database? = nil,
                logger: Logger = Logger(label: "parley.ratelimit")) {
        self.policy = policy
        self.clock = clock
        self.overrides = overrides
        self.overrideRefresh = overrideRefresh
        self.local = LocalRateCells(maxKeys: maxKeys)
        self.shared = database.map { SharedRateCells(database: $0) }
        self.logger = logger
    }

    /// How many keys this node tracks in memory now (for tests and metrics).
    public var trackedKeys: Int { local.count }

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
        if let refusal = await checkEach(action, keys: [keys]).first, let refusal { throw refusal }
    }

    public func checkEach(_ action: RateLimitedAction, keys list: [RateLimitKeys]) async -> [(any Error)?] {
        guard let rules = policy.rules[action], !rules.isEmpty else { return list.map { _ in nil } }
        let now = clock.now()
        if overrides != nil {
            let stale = state.withLock { state in state.loadedAt.map { now.timeIntervalSince($0) >= overrideRefresh || now < $0 } ?? true }
            if stale {
                do { try await reloadOverrides() } catch { return list.map { _ in error } }
            }
        }
        let snapshot = state.withLock { $0.snapshot }
        let requests = list.map { keys in
            RateLimitKeyKind.allCases.compactMap { kind -> RateCell? in
                guard var limit = rules[kind], let key = key(kind, keys) else { return nil }
                if kind == .user { limit = userLimit(action, keys: keys, default: limit, snapshot: snapshot) }
                return RateCell(key: "\(action.rawValue)|\(key)", kind: kind, interval: limit.emissionInterval, burst: limit.burst)
            }
        }
        return await admitEach(requests, at: now.timeIntervalSince1970).map { denial in
            denial.map { ParleyError.rateLimited(action, key: $0.kind.rawValue, retryAfter: max(1, Int($0.wait.rounded(.up)))) }
        }
    }

    /// Each request in order, on this node's cells alone, or on the shared ones with this node's as a first gate:
    /// this node's TATs never run ahead of the shared ones, so what they refuse the shared cells would refuse too,
    /// and a client hammering one node is turned away without a round trip (the gate does not count the batch's
    /// earlier requests, so it only ever refuses less than the shared cells do). The shared cells answer the rest in
    /// one round trip. When the database does not answer, this node's count decides (a rate limit fails open to
    /// the per-node limit, not to no limit).
    private func admitEach(_ requests: [[RateCell]], at now: Double) async -> [RateDenial?] {
        guard let shared else { return requests.map { local.admit($0, at: now) } }
        var outcomes = requests.map { local.denial($0, at: now) }
        let asked = outcomes.indices.filter { outcomes[$0] == nil }
        guard !asked.isEmpty else { return outcomes }
        do {
            let answers = try await shared.admitEach(asked.map { requests[$0] }, at: now)
            for (index, answer) in zip(asked, answers) {
                outcomes[index] = answer
                if answer == nil { local.record(requests[index], at: now) }
            }
        } catch {
            fallbackWarning.log("shared rate limits unavailable; counting on this node", error: error,
                                at: Date(timeIntervalSince1970: now), to: logger)
            for index in asked { outcomes[index] = local.admit(requests[index], at: now) }
        }
        return outcomes
    }

    /// Deletes shared keys whose allowance is full again (they carry no information); returns how many. Nothing to
    /// do without shared cells (this node's are bounded in memory).
    public func pruneSharedCells() async throws -> Int {
        guard let shared else { return 0 }
        return try await shared.prune(before: clock.now().timeIntervalSince1970)
    }

    func key(_ kind: RateLimitKeyKind, _ keys: RateLimitKeys) -> String? {
        switch kind {
        case .user: keys.user.map { "user:\($0.rawValue)" }
        case .ip: keys.ip.map { "ip:" + (IPKey.key(for: $0) ?? "raw:" + String($0.prefix(64))) }
        case .device: keys.device.map { "device:" + String($0.prefix(128)) }
        case .conversation: keys.conversation.map { "conversation:" + String($0.prefix(128)) }
        }
    }
}
