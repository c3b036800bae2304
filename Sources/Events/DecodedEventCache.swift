import ParleyCore
import Synchronization

/// Recently read events, decoded once for every reader of the log.
///
/// Several readers (the live fan-out and each consumer) read the same recent events, and decoding an
/// event's JSON payload is most of the cost of reading it. Slots are indexed by position and checked
/// against the event's id, which is never reused: a position can be reused on SQLite when the
/// transaction that appended it rolls back, so the position alone could return another event.
final class DecodedEventCache: Sendable {
    private let slots: Mutex<[EventEnvelope?]>
    private let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
        slots = Mutex([EventEnvelope?](repeating: nil, count: capacity))
    }

    private func slot(_ position: Int64) -> Int {
        Int(UInt64(bitPattern: position) % UInt64(capacity))
    }

    /// The cached event for each (position, id), or nil where there is none.
    func lookup(_ keys: [(position: Int64, id: String)]) -> [EventEnvelope?] {
        slots.withLock { slots in
            keys.map { key in
                guard let cached = slots[slot(key.position)], cached.position == key.position, cached.id == key.id else { return nil }
                return cached
            }
        }
    }

    func store(_ events: [EventEnvelope]) {
        guard !events.isEmpty else { return }
        slots.withLock { slots in
            for event in events { slots[slot(event.position)] = event }
        }
    }
}
