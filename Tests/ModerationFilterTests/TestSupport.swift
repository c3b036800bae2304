@testable import ModerationFilter

/// Builds a filter from plain words (default metadata) with the given options.
func makeFilter(
    _ words: [String], allow: [String] = [], options: FilterOptions = .standard
) throws -> CompiledFilter {
    try CompiledFilter(dictionary: FilterDictionary(entries: words.map { FilterEntry(word: $0) }, allowList: allow), options: options)
}

/// The dictionary words matched in `text`, in order.
func matchedWords(_ filter: CompiledFilter, _ text: String) -> [String] {
    filter.scan(text).map(\.word)
}

/// The original text of each match.
func matchedTexts(_ filter: CompiledFilter, _ text: String) -> [String] {
    filter.scan(text).map { String($0.matchedText(in: text)) }
}

/// A small deterministic generator for fuzz-style tests.
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
