import NIOCore
import NIOPosix
import Synchronization

/// Wakes in-process readers of the database when a transaction commits, so the live fan-out does not
/// have to poll tightly. Readers still poll on a timeout: the signal is an accelerator (and other nodes'
/// commits on a shared PostgreSQL only show up that way), never the only trigger.
///
/// A wait costs one continuation and one event-loop timer, cancelled when the change comes first. (A child
/// task sleeping for the timeout, as before, cost a task group per wait, and on Linux a cancelled sleep keeps
/// its timer until the sleep would have ended: with a dozen waiters woken by every commit, thousands a second.)
public final class ChangeSignal: Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<Void, Never>
        var timer: Scheduled<Void>?
    }

    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The number of changes signalled so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Records a change and wakes every waiter.
    public func notify() {
        let woken = state.withLock { state -> [Waiter] in
            state.generation &+= 1
            defer { state.waiters.removeAll(keepingCapacity: true) }
            return Array(state.waiters.values)
        }
        for waiter in woken {
            waiter.timer?.cancel()
            waiter.continuation.resume()
        }
    }

    /// Returns when a change after `generation` has been signalled, or after `timeout`, or on cancellation.
    public func wait(since generation: UInt64, timeout: Duration) async {
        let waiterID = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let registered = state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return false }
                    state.waiters[waiterID] = Waiter(continuation: continuation, timer: nil)
                    return true
                }
                guard registered else {
                    continuation.resume()
                    return
                }
                let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: Self.timeAmount(timeout)) {
                    self.wake(waiterID)
                }
                let attached = state.withLock { state -> Bool in
                    guard state.waiters[waiterID] != nil else { return false }
                    state.waiters[waiterID]?.timer = timer
                    return true
                }
                if !attached { timer.cancel() }
            }
        } onCancel: {
            wake(waiterID)
        }
    }

    /// Resumes one waiter early (its timeout, or its task's cancellation); nothing if it has already gone.
    private func wake(_ waiterID: UInt64) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: waiterID) }) else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume()
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }
}
