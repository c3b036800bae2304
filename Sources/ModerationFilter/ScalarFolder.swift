/// The result of folding one input scalar.
struct FoldOutcome {
    enum Kind: UInt8 {
        /// Invisible: skip it entirely (zero-width characters, combining marks).
        case ignorable
        /// Noise: skippable between the letters of a word.
        case noise
        /// One or two folded scalars (two only for styled numbers 10…50).
        case scalars
    }

    var kind: Kind
    var first: UInt32 = 0
    /// The second folded scalar, or 0 when there is only one.
    var second: UInt32 = 0
    var fired: FoldSet = []
}

/// Applies the switched-on folds to one scalar. The slow path: the scanner uses it through a precomputed
/// table for the BMP and directly only for astral scalars and styled numbers above 9.
struct ScalarFolder: Sendable {
    let folds: FoldSet
    let noise: Set<UInt32>
    /// Whether every noise scalar lies in the ranges `mayBeNoise` admits (always true for the default set),
    /// so that the set lookup can be skipped elsewhere.
    let noiseIsGuarded: Bool

    init(options: FilterOptions) {
        folds = options.folds
        noise = Set((options.noiseCharacters ?? FilterOptions.defaultNoise).map(\.value))
        noiseIsGuarded = noise.allSatisfy(Self.mayBeNoise)
    }

    func fold(_ input: UInt32) -> FoldOutcome {
        var v = input
        var fired: FoldSet = []
        if folds.contains(.zeroWidth), FoldTables.isZeroWidth(v) {
            return FoldOutcome(kind: .ignorable, fired: .zeroWidth)
        }
        if folds.contains(.diacritics), FoldTables.isCombiningMark(v) {
            return FoldOutcome(kind: .ignorable, fired: .diacritics)
        }
        if folds.contains(.fullWidth) {
            if (0xFF01...0xFF5E).contains(v) {
                v -= 0xFEE0
                fired.insert(.fullWidth)
            } else if v == 0x3000 {
                v = 0x20
                fired.insert(.fullWidth)
            }
        }
        if folds.contains(.letterStyles), v >= 0x2100, let letter = FoldTables.styledLetter(v) {
            v = letter
            fired.insert(.letterStyles)
        }
        if folds.contains(.digitStyles), v >= 0xB2, let value = FoldTables.styledDigit(v) {
            fired.insert(.digitStyles)
            if value < 10 { return FoldOutcome(kind: .scalars, first: 0x30 + value, fired: fired) }
            return FoldOutcome(kind: .scalars, first: 0x30 + value / 10, second: 0x30 + value % 10, fired: fired)
        }
        if folds.contains(.homoglyphs), Self.mayBeHomoglyph(v), let latin = FoldTables.homoglyphs[v] {
            v = latin
            fired.insert(.homoglyphs)
        }
        if folds.contains(.caseFold) {
            let lower = FoldTables.lowercase(v)
            if lower != v {
                v = lower
                fired.insert(.caseFold)
                if folds.contains(.homoglyphs), Self.mayBeHomoglyph(v), let latin = FoldTables.homoglyphs[v] {
                    v = latin
                    fired.insert(.homoglyphs)
                }
            }
        }
        if folds.contains(.diacritics), (0xC0...0x24F).contains(v) || (0x1E00...0x1EFF).contains(v),
            let base = FoldTables.diacriticBase[v]
        {
            v = base
            fired.insert(.diacritics)
        }
        if folds.contains(.traditionalChinese), Self.mayBeTraditional(v), let simplified = FoldTables.traditionalToSimplified[v] {
            v = simplified
            fired.insert(.traditionalChinese)
        }
        if folds.contains(.noise), !noiseIsGuarded || Self.mayBeNoise(v), noise.contains(v) {
            fired.insert(.noise)
            return FoldOutcome(kind: .noise, first: v, fired: fired)
        }
        return FoldOutcome(kind: .scalars, first: v, fired: fired)
    }

    @inline(__always)
    static func mayBeHomoglyph(_ v: UInt32) -> Bool { (0x100...0x06FF).contains(v) || v == 0x2113 }

    @inline(__always)
    static func mayBeTraditional(_ v: UInt32) -> Bool {
        (0x2E80...0x9FFF).contains(v) || (0xF900...0xFAFF).contains(v) || (0x20000...0x3FFFF).contains(v)
    }

    /// Noise is punctuation, symbols and spaces: never a letter of the scripts with large blocks.
    @inline(__always)
    static func mayBeNoise(_ v: UInt32) -> Bool {
        v < 0x3400 || (0xA000...0xABFF).contains(v) || v >= 0xD800 && v < 0x20000
    }

    /// Whether a folded scalar is a letter or digit of a space-separated script (Latin, Greek, Cyrillic, …).
    /// CJK ideographs, kana and Hangul are not: words in those scripts match anywhere.
    static func isWordScalar(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
        }
        switch v {
        case 0x3400...0x9FFF, 0x1100...0x11FF, 0x3040...0x30FF, 0x3100...0x312F, 0x3130...0x318F, 0x31F0...0x31FF, 0xAC00...0xD7AF,
            0xFF66...0xFF9F:
            return false
        default:
            break
        }
        guard let scalar = Unicode.Scalar(v) else { return false }
        let properties = scalar.properties
        if properties.isIdeographic { return false }
        return properties.isAlphabetic || properties.numericType == .decimal
    }
}
