import Synchronization

/// A counting semaphore for async code: `wait()` suspends instead of blocking a thread.
///
/// Used to serialise SQLite writers, which must not interleave their transactions on one connection.
/// Waiters are resumed in FIFO order.
final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    init(permits: Int) {
        state = Mutex(State(permits: permits))
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.waiters.append((0, continuation))
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    func signal() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.permits += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        await wait()
        defer { signal() }
        return try await body()
    }
}
