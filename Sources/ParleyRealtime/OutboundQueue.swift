import Synchronization

/// A connection's bounded outbound queue of encoded frames.
///
/// Back-pressure policy (DESIGN §4): when the queue is full, ephemeral frames (typing, presence) are
/// dropped first; if it is still full the connection has fallen too far behind to catch up live, so the
/// queue is replaced by a single `resync_required` frame and the connection is closed. Memory per
/// connection is therefore bounded by `capacity` frames, whatever the client does.
final class OutboundQueue: Sendable {
    enum Frame: Sendable {
        case durable(String)
        case ephemeral(String)

        var text: String {
            switch self {
            case .durable(let text), .ephemeral(let text): text
            }
        }

        var isEphemeral: Bool {
            if case .ephemeral = self { return true }
            return false
        }
    }

    enum Outcome: Equatable {
        case queued
        case droppedEphemeral
        /// The queue overflowed: the caller must close the connection.
        case overflowed
        case closed
    }

    private struct State {
        var frames: [Frame] = []
        var head = 0
        var waiter: CheckedContinuation<String?, Never>?
        var closed = false
        var highWater = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { state.withLock { $0.frames.count - $0.head } }
    var highWater: Int { state.withLock { $0.highWater } }

    func enqueue(_ frame: Frame, overflowFrame: @autoclosure () -> String) -> Outcome {
        let (outcome, waiter, text) = state.withLock { state -> (Outcome, CheckedContinuation<String?, Never>?, String?) in
            guard !state.closed else { return (.closed, nil, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (.queued, waiter, frame.text)
            }
            var pending = state.frames.count - state.head
            if pending >= capacity {
                if frame.isEphemeral { return (.droppedEphemeral, nil, nil) }
                state.frames = state.frames[state.head...].filter { !$0.isEphemeral }
                state.head = 0
                pending = state.frames.count
                if pending >= capacity {
                    // Too far behind: keep only the instruction to resync, then close.
                    state.frames = [.durable(overflowFrame())]
                    state.head = 0
                    state.closed = true
                    return (.overflowed, nil, nil)
                }
            }
            state.frames.append(frame)
            state.highWater = max(state.highWater, pending + 1)
            return (.queued, nil, nil)
        }
        waiter?.resume(returning: text)
        return outcome
    }

    /// The next frame, waiting if there is none; nil once the queue is closed and drained.
    func next() async -> String? {
        await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let immediate = state.withLock { state -> (Bool, String?) in
                if state.head < state.frames.count {
                    let frame = state.frames[state.head]
                    state.head += 1
                    if state.head > 256, state.head * 2 > state.frames.count {
                        state.frames.removeFirst(state.head)
                        state.head = 0
                    }
                    return (true, frame.text)
                }
                if state.closed { return (true, nil) }
                state.waiter = continuation
                return (false, nil)
            }
            if immediate.0 { continuation.resume(returning: immediate.1) }
        }
    }

    /// Stops accepting frames; frames already queued are still delivered by `next()`.
    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.head >= state.frames.count ? state.waiter : nil
        }
        waiter?.resume(returning: nil)
    }
}
