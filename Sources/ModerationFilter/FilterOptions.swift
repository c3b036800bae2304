/// How a `CompiledFilter` normalises and matches text. Fixed when the filter is compiled.
public struct FilterOptions: Sendable, Hashable {
    /// The folds that are switched on. Default: all of them.
    public var folds: FoldSet
    /// Latin-script words (words that start or end with a letter or digit of an alphabetic script) match only
    /// as whole words, so `ass` does not hit `class`. CJK words match anywhere. Default: `true`.
    public var wholeWordLatin: Bool
    /// The most noise characters skipped in a row inside a word (with `.noise` on). A longer run ends the
    /// word. Default: 3.
    public var maxNoiseRun: Int
    /// The characters treated as noise (with `.noise` on), compared after the other folds. `nil` means
    /// `FilterOptions.defaultNoise`: ASCII punctuation and symbols, spaces and tabs (not line breaks),
    /// and common CJK punctuation.
    public var noiseCharacters: Set<Unicode.Scalar>?

    public init(
        folds: FoldSet = .all,
        wholeWordLatin: Bool = true,
        maxNoiseRun: Int = 3,
        noiseCharacters: Set<Unicode.Scalar>? = nil
    ) {
        self.folds = folds
        self.wholeWordLatin = wholeWordLatin
        self.maxNoiseRun = max(0, maxNoiseRun)
        self.noiseCharacters = noiseCharacters
    }

    /// All folds, whole-word Latin matching, at most 3 noise characters in a row.
    public static let standard = FilterOptions()

    /// No normalisation and no word boundaries: exact code-point matching (useful as a reference).
    public static let exact = FilterOptions(folds: [], wholeWordLatin: false)

    /// The default noise set.
    public static let defaultNoise: Set<Unicode.Scalar> = {
        var set = Set<Unicode.Scalar>()
        for v in UInt32(0x21)...0x7E {
            let s = Unicode.Scalar(v)!
            let isAlnum = (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
            if !isAlnum { set.insert(s) }
        }
        let extra: [UInt32] = [
            0x20, 0x09, 0xA0, 0x3000, 0xB7, 0xD7, 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2018, 0x2019,
            0x201C, 0x201D, 0x2022, 0x2026, 0x2027, 0x2032, 0x2033, 0x203B, 0x2605, 0x2606, 0x25CB, 0x25CF, 0x25A1,
            0x25A0, 0x2661, 0x2665, 0x266A, 0x3001, 0x3002, 0x3008, 0x3009, 0x300A, 0x300B, 0x300C, 0x300D, 0x300E,
            0x300F, 0x3010, 0x3011, 0x3014, 0x3015, 0x301C, 0x30FB, 0xFF65, 0xFE4F, 0x00A1, 0x00BF,
        ]
        for v in extra { set.insert(Unicode.Scalar(v)!) }
        return set
    }()
}
