/// 64-bit SimHash over character n-grams, for near-duplicate text: texts that differ by a few edits have
/// fingerprints a few bits apart (Hamming distance), unlike a cryptographic hash.
///
/// Characters are grapheme clusters, so a CJK character is one unit, as the research recommends.
public enum SimHash {
    /// The fingerprint of `text` (already normalised) over `n`-grams; texts shorter than `n` hash as one gram.
    public static func fingerprint(_ text: String, n: Int = 3) -> UInt64 {
        let characters = Array(text)
        guard !characters.isEmpty else { return 0 }
        var weights = [Int](repeating: 0, count: 64)
        let count = max(1, characters.count - n + 1)
        for start in 0..<count {
            let gram = characters[start..<min(characters.count, start + n)]
            let hash = fnv1a(gram)
            for bit in 0..<64 {
                weights[bit] += (hash >> UInt64(bit)) & 1 == 1 ? 1 : -1
            }
        }
        var result: UInt64 = 0
        for bit in 0..<64 where weights[bit] > 0 { result |= 1 << UInt64(bit) }
        return result
    }

    /// How many bits two fingerprints differ in.
    public static func distance(_ a: UInt64, _ b: UInt64) -> Int {
        (a ^ b).nonzeroBitCount
    }

    /// FNV-1a over the UTF-8 of the gram, finished with a 64-bit mixer so nearby grams spread over all bits.
    static func fnv1a(_ gram: ArraySlice<Character>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for character in gram {
            for byte in character.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x100_0000_01b3
            }
            hash ^= 0xff
            hash &*= 0x100_0000_01b3
        }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}

/// The text form duplicate checks compare: lower-cased, letters and digits only, whitespace runs and
/// punctuation dropped, so `Buy NOW!!!` and `buy now` are the same text.
public enum DuplicateText {
    public static func normalise(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars where scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
            out.append(scalar)
        }
        return String(out)
    }
}
