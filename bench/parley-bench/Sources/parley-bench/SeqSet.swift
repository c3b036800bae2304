/// A set of small non-negative integers (message sequence numbers of one sender) as a bitmap.
struct SeqSet: Sendable {
    private(set) var words: [UInt64] = []
    private(set) var count = 0

    init(capacity: Int = 0) {
        words = [UInt64](repeating: 0, count: (capacity + 63) / 64)
    }

    /// Inserts `value`; returns false when it was already there.
    @inline(__always)
    mutating func insert(_ value: Int) -> Bool {
        let word = value >> 6
        if word >= words.count { words.append(contentsOf: [UInt64](repeating: 0, count: word - words.count + 1)) }
        let bit = UInt64(1) << UInt64(value & 63)
        if words[word] & bit != 0 { return false }
        words[word] |= bit
        count += 1
        return true
    }

    @inline(__always)
    func contains(_ value: Int) -> Bool {
        let word = value >> 6
        return word < words.count && words[word] & (UInt64(1) << UInt64(value & 63)) != 0
    }

    /// How many members of `other` are missing from this set.
    func missing(of other: SeqSet) -> Int {
        var missing = 0
        for (index, word) in other.words.enumerated() {
            let mine = index < words.count ? words[index] : 0
            missing += (word & ~mine).nonzeroBitCount
        }
        return missing
    }
}
