import NIOCore
import NIOPosix
import Synchronization

/// Wakes in-process readers of the database when a transaction commits, so the live fan-out does not
/// have to poll tightly. Readers still poll on a timeout: the signal is an accelerator (and other nodes'
/// commits on a shared PostgreSQL only show up that way), never the only trigger.
///
/// A wait costs one continuation. Timeouts share one event-loop timer per signal, set for the earliest
/// deadline and never cancelled: when it fires it resumes the waiters whose deadline passed and sets itself
/// for the next. (A timer per wait, cancelled by the change that usually came first, cost a cross-thread
/// wake-up of the event loop for every waiter on every commit: ~5% of the server's CPU with one message in
/// flight. Before that, a child task sleeping for the timeout cost a task group per wait.)
public final class ChangeSignal: Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<Void, Never>
        let deadline: NIODeadline
    }

    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        /// When the pending timer fires; nil when none is pending.
        var timerDeadline: NIODeadline?
    }

    private let state = Mutex(State())

    public init() {}

    /// The number of changes signalled so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Records a change and wakes every waiter.
    public func notify() {
        let woken = state.withLock { state -> [Waiter] in
            state.generation &+= 1
            guard !state.waiters.isEmpty else { return [] }
            defer { state.waiters.removeAll(keepingCapacity: true) }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// Returns when a change after `generation` has been signalled, or after `timeout`, or on cancellation.
    public func wait(since generation: UInt64, timeout: Duration) async {
        let waiterID = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        let deadline = NIODeadline.now() + Self.timeAmount(timeout)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (registered, timer) = state.withLock { state -> (Bool, NIODeadline?) in
                    if state.generation != generation || Task.isCancelled { return (false, nil) }
                    state.waiters[waiterID] = Waiter(continuation: continuation, deadline: deadline)
                    guard state.timerDeadline.map({ deadline < $0 }) ?? true else { return (true, nil) }
                    state.timerDeadline = deadline
                    return (true, deadline)
                }
                guard registered else {
                    continuation.resume()
                    return
                }
                if let timer { schedule(at: timer) }
            }
        } onCancel: {
            wake(waiterID)
        }
    }

    /// Calls `body` after each change until the task is cancelled (changes signalled while `body` runs count as one):
    /// for relaying one signal into another, or into a callback.
    public func forEachChange(_ body: () -> Void) async {
        var seen = generation
        while !Task.isCancelled {
            await wait(since: seen, timeout: .seconds(3600))
            let current = generation
            guard current != seen, !Task.isCancelled else { continue }
            seen = current
            body()
        }
    }

    private func schedule(at deadline: NIODeadline) {
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(deadline: deadline) { self.expire(timerSetFor: deadline) }
    }

    /// A timer fired: resumes the waiters whose deadline has passed, and sets the timer for the next deadline.
    private func expire(timerSetFor firedDeadline: NIODeadline) {
        let now = NIODeadline.now()
        let (expired, next) = state.withLock { state -> ([Waiter], NIODeadline?) in
            if state.timerDeadline == firedDeadline { state.timerDeadline = nil }
            var expired: [Waiter] = []
            var earliest: NIODeadline?
            for (id, waiter) in state.waiters {
                if waiter.deadline <= now {
                    expired.append(waiter)
                    state.waiters.removeValue(forKey: id)
                } else if earliest.map({ waiter.deadline < $0 }) ?? true {
                    earliest = waiter.deadline
                }
            }
            // A timer already pending for an earlier or equal deadline will do; otherwise set one.
            guard let earliest, state.timerDeadline.map({ earliest < $0 }) ?? true else { return (expired, nil) }
            state.timerDeadline = earliest
            return (expired, earliest)
        }
        for waiter in expired { waiter.continuation.resume() }
        if let next { schedule(at: next) }
    }

    /// Resumes one waiter early (its task's cancellation); nothing if it has already gone.
    private func wake(_ waiterID: UInt64) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: waiterID) }) else { return }
        waiter.continuation.resume()
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }
}
