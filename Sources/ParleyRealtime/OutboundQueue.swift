import Synchronization

/// A connection's bounded outbound queue of encoded frames, drained by the connection's channel handler
/// on its event loop.
///
/// Back-pressure policy (DESIGN §4): when the queue is full, ephemeral frames (typing, presence) are
/// dropped first; if it is still full the connection has fallen too far behind to catch up live, so the
/// queue is replaced by a single `resync_required` frame and the connection is closed. Memory per
/// connection is therefore bounded by `capacity` frames (plus the socket's write buffer, which the
/// handler stops filling while the channel is not writable), whatever the client does.
///
/// Draining is requested, not polled: `enqueue` and `close` report when the queue went from idle to
/// having work, and only then does the caller wake the handler, so a burst of frames costs one hop to
/// the event loop, and an idle connection costs nothing.
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

    /// What the handler should do after a `take`.
    enum Batch {
        /// Frames to write; more may follow.
        case frames([String])
        /// Nothing queued: the handler goes idle until woken again.
        case idle
        /// Closed and fully drained: the handler ends the connection.
        case finished
    }

    private struct State {
        var frames: [Frame] = []
        var head = 0
        /// Set from the moment the handler is woken until a `take` finds nothing: while set, nobody
        /// needs to wake it again.
        var draining = false
        var closed = false
        var highWater = 0

        var pending: Int { frames.count - head }

        /// Claims the right to wake the handler if it is idle.
        mutating func claimWake() -> Bool {
            guard !draining else { return false }
            draining = true
            return true
        }
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { state.withLock { $0.pending } }
    var highWater: Int { state.withLock { $0.highWater } }

    /// Queues `frame`. `wake` is true when the handler was idle and must be woken to drain.
    func enqueue(_ frame: Frame, overflowFrame: @autoclosure () -> String) -> (outcome: Outcome, wake: Bool) {
        state.withLock { state -> (Outcome, Bool) in
            guard !state.closed else { return (.closed, false) }
            var pending = state.pending
            if pending >= capacity {
                if frame.isEphemeral { return (.droppedEphemeral, false) }
                state.frames = state.frames[state.head...].filter { !$0.isEphemeral }
                state.head = 0
                pending = state.frames.count
                if pending >= capacity {
                    // Too far behind: keep only the instruction to resync, then close.
                    state.frames = [.durable(overflowFrame())]
                    state.head = 0
                    state.closed = true
                    return (.overflowed, false)
                }
            }
            state.frames.append(frame)
            state.highWater = max(state.highWater, pending + 1)
            return (.queued, state.claimWake())
        }
    }

    /// Up to `limit` frames to write now, in order.
    func take(limit: Int) -> Batch {
        state.withLock { state -> Batch in
            let pending = state.pending
            guard pending > 0 else {
                if state.closed { return .finished }
                state.draining = false
                return .idle
            }
            let end = state.head + min(limit, pending)
            let batch = state.frames[state.head..<end].map(\.text)
            state.head = end
            if state.head == state.frames.count {
                state.frames.removeAll(keepingCapacity: state.frames.capacity <= 64)
                state.head = 0
            } else if state.head > 256, state.head * 2 > state.frames.count {
                state.frames.removeFirst(state.head)
                state.head = 0
            }
            return .frames(batch)
        }
    }

    /// Stops accepting frames; frames already queued are still written. `wake` as for `enqueue`: the
    /// handler must notice the close even if nothing is queued.
    func close() -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.closed = true
            return state.claimWake()
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }
}
