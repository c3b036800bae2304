import Synchronization

/// Wakes in-process readers of the database when a transaction commits, so the live fan-out does not
/// have to poll tightly. Readers still poll on a timeout: the signal is an accelerator (and other nodes'
/// commits on a shared PostgreSQL only show up that way), never the only trigger.
public final class ChangeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The number of changes signalled so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Records a change and wakes every waiter.
    public func notify() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when a change after `generation` has been signalled, or after `timeout`, or on cancellation.
    public func wait(since generation: UInt64, timeout: Duration) async {
        let waiterID = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.generation != generation || Task.isCancelled { return true }
                        state.waiters[waiterID] = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                let waiter = self.state.withLock { $0.waiters.removeValue(forKey: waiterID) }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
            let waiter = state.withLock { $0.waiters.removeValue(forKey: waiterID) }
            waiter?.resume()
        }
    }
}
