/// A rank directory over a bit vector: `rank(i)` = number of set bits before `i`, in O(1).
struct RankedBits {
    var words: [UInt64]
    var prefix: [UInt32]

    init(count: Int, isSet: (Int) -> Bool) {
        let wordCount = (count + 63) / 64
        words = [UInt64](repeating: 0, count: wordCount)
        prefix = [UInt32](repeating: 0, count: wordCount)
        for i in 0..<count where isSet(i) { words[i >> 6] |= 1 << UInt64(i & 63) }
        var total: UInt32 = 0
        for w in 0..<wordCount {
            prefix[w] = total
            total += UInt32(words[w].nonzeroBitCount)
        }
    }

    var byteCount: Int { words.count * 8 + prefix.count * 4 }
}
