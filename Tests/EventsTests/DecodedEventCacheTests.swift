@testable import Events
import Foundation
import ParleyCore
import Testing

/// The shared cache of decoded events answers only for the very event it holds: same position and same id.
@Suite struct DecodedEventCacheTests {
    func envelope(_ position: Int64, _ id: String, _ n: Int) -> EventEnvelope {
        EventEnvelope(position: position, id: id, type: "t", occurredAt: Date(unixMilliseconds: 0), actor: "a", subject: "s",
                      payload: ["n": .int(n)])
    }

    @Test func aSlotAnswersOnlyForItsPositionAndId() {
        let cache = DecodedEventCache(capacity: 8)
        cache.store([envelope(5, "ev_a", 1), envelope(6, "ev_b", 2)])
        let found = cache.lookup([(5, "ev_a"), (6, "ev_b"), (5, "ev_other"), (13, "ev_a"), (7, "ev_c")])
        #expect(found.map { $0?.payload["n"] } == [.int(1), .int(2), nil, nil, nil])
        // A position appended again by another event (its first transaction rolled back) is not mistaken for it.
        cache.store([envelope(5, "ev_z", 9)])
        #expect(cache.lookup([(5, "ev_a")]) == [nil])
        #expect(cache.lookup([(5, "ev_z")]).first??.payload["n"] == .int(9))
        // Position 13 shares slot 5 with capacity 8: storing it evicts 5.
        cache.store([envelope(13, "ev_y", 3)])
        #expect(cache.lookup([(5, "ev_z"), (13, "ev_y")]).map { $0?.id } == [nil, "ev_y"])
    }
}
