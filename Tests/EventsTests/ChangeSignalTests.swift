import Foundation
import ParleyStorage
import Testing

/// ChangeSignal: a change wakes every waiter; without one, each waiter wakes at its own timeout (they share one
/// timer per signal, reset for the earliest deadline); a change before the wait makes it return at once.
@Suite struct ChangeSignalTests {
    /// Not a timing assertion beyond "it returned": the timeouts are the only thing that can end these waits.
    @Test func waitersWithDifferentTimeoutsEachWakeWithoutAChange() async {
        let signal = ChangeSignal()
        let generation = signal.generation
        let woken = await withTaskGroup(of: Int.self) { group in
            // A long wait first (its timer pending), then shorter ones that need an earlier timer.
            for milliseconds in [3_000, 400, 50, 200, 50] {
                group.addTask {
                    await signal.wait(since: generation, timeout: .milliseconds(milliseconds))
                    return 1
                }
            }
            return await group.reduce(0, +)
        }
        #expect(woken == 5)
        #expect(signal.generation == generation)
    }

    @Test func aChangeWakesEveryWaiterLongBeforeTheirTimeout() async throws {
        let signal = ChangeSignal()
        let generation = signal.generation
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask { await signal.wait(since: generation, timeout: .seconds(600)) }
            }
            try await Task.sleep(for: .milliseconds(100))
            signal.notify()
            try await group.waitForAll()
        }
        // Ten-minute timeouts: only the change can have ended them (the bound is generous, not a performance target).
        #expect(ContinuousClock.now - started < .seconds(300))
        // A change before the wait: it returns at once.
        await signal.wait(since: generation, timeout: .seconds(600))
    }

    /// Waits that keep coming after changes, as the live fan-out's do, are each ended by the next change.
    @Test func manyRoundsOfWaitAndChange() async {
        let signal = ChangeSignal()
        for _ in 0..<1_000 {
            let generation = signal.generation
            async let waited: Void = signal.wait(since: generation, timeout: .seconds(600))
            signal.notify()
            await waited
        }
        #expect(signal.generation == 1_000)
    }
}
