import Foundation
import ParleyCore
import Synchronization

/// Tries a channel's providers in their configured order and moves on when one fails.
///
/// A provider that fails `threshold` times in a row is skipped for `cooldown` (a circuit breaker), so a
/// dead SMTP server or push gateway costs one timeout per cooldown instead of one per message; after the
/// cooldown it gets one trial (half-open). When every provider's circuit is open, they are still tried in
/// order: skipping all would turn an outage into lost notifications.
///
/// Only transient failures move to the next provider. A permanent failure (a rejected recipient, a
/// malformed payload) is about the message, and another provider would refuse it too.
///
/// Health is kept per node, in memory: it is an optimisation of the order, never a source of truth.
public final class ProviderFailover: Sendable {
    struct Health {
        var consecutiveFailures = 0
        var openUntil: Date?
    }

    public let threshold: Int
    public let cooldown: TimeInterval
    let clock: any WallClock
    private let health = Mutex<[String: Health]>([:])

    public init(threshold: Int = 3, cooldown: TimeInterval = 60, clock: any WallClock) {
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self.clock = clock
    }

    /// Runs `attempt` on each provider in turn until one succeeds. Throws the permanent failure that stopped
    /// it, or a transient `ChannelFailure` listing every provider's reason when all failed.
    public func run<Provider: Sendable, Result: Sendable>(
        _ providers: [(name: String, provider: Provider)],
        _ attempt: (Provider) async throws -> Result
    ) async throws -> Result {
        guard !providers.isEmpty else { throw ChannelFailure("no provider is configured", permanent: true) }
        var reasons: [String] = []
        for (name, provider) in ordered(providers) {
            do {
                let result = try await attempt(provider)
                recordSuccess(name)
                return result
            } catch let failure as ChannelFailure where failure.permanent {
                throw ChannelFailure("\(name): \(failure.reason)", permanent: true)
            } catch {
                recordFailure(name)
                reasons.append("\(name): \((error as? ChannelFailure)?.reason ?? "\(error)")")
            }
        }
        throw ChannelFailure(reasons.joined(separator: "; "))
    }

    /// Providers whose circuit is closed (or due a trial) in configured order, then the open ones.
    func ordered<Provider>(_ providers: [(name: String, provider: Provider)]) -> [(name: String, provider: Provider)] {
        let now = clock.now()
        let open = health.withLock { health in
            Set(providers.map(\.name).filter { name in health[name]?.openUntil.map { $0 > now } ?? false })
        }
        return providers.filter { !open.contains($0.name) } + providers.filter { open.contains($0.name) }
    }

    func recordSuccess(_ name: String) {
        health.withLock { $0[name] = nil }
    }

    func recordFailure(_ name: String) {
        let now = clock.now()
        health.withLock { health in
            var entry = health[name] ?? Health()
            entry.consecutiveFailures += 1
            if entry.consecutiveFailures >= threshold { entry.openUntil = now.addingTimeInterval(cooldown) }
            health[name] = entry
        }
    }

    /// Whether `name`'s circuit is open now (for the admin API and tests).
    public func isOpen(_ name: String) -> Bool {
        let now = clock.now()
        return health.withLock { $0[name]?.openUntil.map { $0 > now } ?? false }
    }
}
