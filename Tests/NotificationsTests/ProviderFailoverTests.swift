import Foundation
import Notifications
import ParleyCore
import Synchronization
import Testing

/// The order providers are tried in: configured order, a provider that keeps failing skipped for a while,
/// and no failover for failures that are about the message rather than the provider.
@Suite struct ProviderFailoverTests {
    /// Records which providers were called; `down` ones fail transiently, `refusing` ones permanently.
    final class Calls: Sendable {
        let names = Mutex<[String]>([])
        func record(_ name: String) { names.withLock { $0.append(name) } }
        func take() -> [String] { names.withLock { names in defer { names = [] }; return names } }
    }

    func attempt(_ failover: ProviderFailover, _ calls: Calls, down: Set<String>, refusing: Set<String> = []) async throws -> String {
        try await failover.run([("a", "a"), ("b", "b")]) { name in
            calls.record(name)
            if refusing.contains(name) { throw ChannelFailure("550 no such user", permanent: true) }
            if down.contains(name) { throw ChannelFailure("connection refused") }
            return name
        }
    }

    @Test func aProviderThatKeepsFailingIsTriedLastUntilItsCooldownEnds() async throws {
        let clock = ManualWallClock()
        let failover = ProviderFailover(threshold: 3, cooldown: 60, clock: clock)
        let calls = Calls()
        for _ in 0..<3 {
            #expect(try await attempt(failover, calls, down: ["a"]) == "b")
            #expect(calls.take() == ["a", "b"])
        }
        #expect(failover.isOpen("a"))
        // Open: b first, a is not even tried while b works.
        #expect(try await attempt(failover, calls, down: ["a"]) == "b")
        #expect(calls.take() == ["b"])
        // After the cooldown a gets its trial again, and a success closes its circuit.
        clock.advance(by: 61)
        #expect(try await attempt(failover, calls, down: []) == "a")
        #expect(calls.take() == ["a"])
        #expect(!failover.isOpen("a"))
    }

    @Test func whenEveryProviderFailsTheFailureIsTransientAndNamesThemAll() async throws {
        let failover = ProviderFailover(clock: ManualWallClock())
        let calls = Calls()
        let error = await #expect(throws: ChannelFailure.self) { try await attempt(failover, calls, down: ["a", "b"]) }
        #expect(error?.permanent == false)
        #expect(error?.reason.contains("a: connection refused") == true)
        #expect(error?.reason.contains("b: connection refused") == true)
    }

    @Test func aPermanentRefusalDoesNotFailOver() async throws {
        let failover = ProviderFailover(clock: ManualWallClock())
        let calls = Calls()
        let error = await #expect(throws: ChannelFailure.self) { try await attempt(failover, calls, down: [], refusing: ["a"]) }
        #expect(error?.permanent == true)
        #expect(calls.take() == ["a"])
        #expect(!failover.isOpen("a"))
    }
}
