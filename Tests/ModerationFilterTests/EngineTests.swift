import Synchronization
import Testing
@testable import ModerationFilter

@Suite("Engine: atomic swap and scopes")
struct EngineTests {
    @Test("Readers see either the old or the new dictionary while it is swapped")
    func atomicSwap() async throws {
        let alpha = FilterDictionary(entries: [FilterEntry(word: "alpha")])
        let beta = FilterDictionary(entries: [FilterEntry(word: "beta")])
        let engine = try FilterEngine(dictionary: alpha)
        let violations = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<2000 {
                        let words = engine.scan("alpha beta").map(\.word)
                        if words != ["alpha"] && words != ["beta"] { violations.value.add(1, ordering: .relaxed) }
                    }
                }
            }
            group.addTask {
                for round in 0..<50 {
                    try engine.replaceGlobal(with: round.isMultiple(of: 2) ? beta : alpha)
                }
                try engine.replaceGlobal(with: beta)
            }
            try await group.waitForAll()
        }
        #expect(violations.value.load(ordering: .relaxed) == 0)
        #expect(engine.scan("alpha beta").map(\.word) == ["beta"])
        #expect(engine.snapshot.generation == 51)
    }

    @Test("A filter taken before a swap keeps working after it")
    func oldSnapshotStaysValid() throws {
        let engine = try FilterEngine(dictionary: FilterDictionary(entries: [FilterEntry(word: "alpha")]))
        let old = engine.filter()
        try engine.replaceGlobal(with: FilterDictionary(entries: [FilterEntry(word: "beta")]))
        #expect(old.scan("alpha beta").map(\.word) == ["alpha"])
        #expect(engine.filter().scan("alpha beta").map(\.word) == ["beta"])
    }

    @Test("Scopes layer their own words over the global dictionary and follow global updates")
    func scopes() throws {
        let engine = try FilterEngine(dictionary: FilterDictionary(entries: [FilterEntry(word: "darn")]))
        try engine.setScope("room-1", dictionary: FilterDictionary(entries: [FilterEntry(word: "promo", action: .reject)]))
        #expect(engine.apply("darn promo", scope: "room-1").verdict == .reject)
        #expect(engine.apply("darn promo").verdict == .rewrite)
        #expect(engine.scan("darn promo", scope: "other").map(\.word) == ["darn"])
        try engine.replaceGlobal(with: FilterDictionary(entries: [FilterEntry(word: "heck")]))
        #expect(engine.scan("darn heck promo", scope: "room-1").map(\.word) == ["heck", "promo"])
        engine.removeScope("room-1")
        #expect(engine.scan("darn heck promo", scope: "room-1").map(\.word) == ["heck"])
    }

    @Test("A failing rebuild leaves the served filter unchanged")
    func failedRebuild() throws {
        let engine = try FilterEngine(dictionary: FilterDictionary(entries: [FilterEntry(word: "darn")]))
        let long = String(repeating: "x", count: CompiledFilter.maxWordLength + 5)
        #expect(throws: FilterDictionaryError.self) {
            try engine.replaceGlobal(with: FilterDictionary(entries: [FilterEntry(word: long)]))
        }
        #expect(engine.scan("darn").map(\.word) == ["darn"])
        #expect(engine.snapshot.generation == 0)
    }
}

/// A shareable atomic counter.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
