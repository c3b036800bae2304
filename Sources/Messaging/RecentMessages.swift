import Synchronization

/// Messages this process has just stored, with each recipient's feed position, kept for the live fan-out:
/// it tails the event log and would otherwise read every new message back (the item, its recipients, and a
/// JSON parse of its body) moments after the send that wrote it had it all in memory.
///
/// Entries are added inside the send's transaction, before its COMMIT (added after it, the fan-out, woken by
/// the commit, usually looked first). So an entry is only an offer: the fan-out takes it when the committed
/// event names the same message id at that position; an entry of a transaction that rolled back names an id
/// that was never committed (a later message at its position has a new id), and is dropped when taken or
/// pushed out. Bounded: the oldest go first (the fan-out then reads them, as it does for other nodes' messages).
final class RecentMessages: Sendable {
    private struct State {
        var entries: [ItemPosition: ItemForFanOut] = [:]
        var order: [ItemPosition] = []
        var head = 0
    }

    private let state = Mutex(State())
    private let capacity: Int
    /// Off until a live fan-out runs in this process: a process without one (`parley worker`) would only fill it.
    private let enabled = Atomic<Bool>(false)

    init(capacity: Int = 8_192) {
        self.capacity = capacity
    }

    /// Keeps what is offered from now on.
    func enable() {
        enabled.store(true, ordering: .relaxed)
    }

    func offer(_ stored: [ItemForFanOut]) {
        guard enabled.load(ordering: .relaxed) else { return }
        state.withLock { state in
            for entry in stored {
                let position = ItemPosition(conversationID: entry.item.conversationID, seq: entry.item.seq)
                state.entries[position] = entry
                state.order.append(position)
            }
            // Push out the oldest; compact the order list once its consumed prefix is long.
            while state.order.count - state.head > capacity {
                state.entries.removeValue(forKey: state.order[state.head])
                state.head += 1
            }
            if state.head > capacity {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// Removes and returns the entries at `wanted` whose message id matches.
    func take(_ wanted: [ItemPosition: String]) -> [ItemPosition: ItemForFanOut] {
        state.withLock { state in
            var found: [ItemPosition: ItemForFanOut] = [:]
            for (position, id) in wanted {
                guard let entry = state.entries[position], entry.item.id == id else { continue }
                state.entries.removeValue(forKey: position)
                found[position] = entry
            }
            return found
        }
    }
}
