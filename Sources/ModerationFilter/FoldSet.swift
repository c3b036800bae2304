/// The normalisation steps ("folds") the filter can apply while it scans.
///
/// Used twice: in `FilterOptions.folds` to say which folds are switched on, and in `FilterMatch.folds` to
/// say which folds actually fired inside a match.
public struct FoldSet: OptionSet, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Upper → lower case (Unicode simple lower-case mapping), e.g. `FUCK` → `fuck`.
    public static let caseFold = FoldSet(rawValue: 1 << 0)
    /// Full-width ASCII → half-width, e.g. `ｆｕｃｋ` → `fuck`, U+3000 → space.
    public static let fullWidth = FoldSet(rawValue: 1 << 1)
    /// Traditional → simplified Chinese (OpenCC TSCharacters), e.g. `傻屄` stays, `罵` → `骂`.
    public static let traditionalChinese = FoldSet(rawValue: 1 << 2)
    /// Digit styles → ASCII digits: `①`, `⑴`, `⒈`, `❶`, `㈠`, `一二三`, `壹贰叁`, `¹₂`, `１`, `𝟙`.
    public static let digitStyles = FoldSet(rawValue: 1 << 3)
    /// Enclosed and styled Latin letters → ASCII: `Ⓐ`, `ⓐ`, `⒜`, `🅐`, `🄰`, `🅰`, `𝐀`, `𝑎`, `𝔞`, `ℍ`.
    public static let letterStyles = FoldSet(rawValue: 1 << 4)
    /// Latin look-alikes from Cyrillic, Greek and others (UTS #39 confusables subset), e.g. `а` → `a`.
    public static let homoglyphs = FoldSet(rawValue: 1 << 5)
    /// Zero-width and invisible characters (U+200B…U+200F, U+2060…, U+FEFF, soft hyphen, variation selectors) are ignored.
    public static let zeroWidth = FoldSet(rawValue: 1 << 6)
    /// Noise characters (punctuation, symbols, spaces) between the letters of a word are skipped, up to
    /// `FilterOptions.maxNoiseRun` in a row, e.g. `f*u*c*k`, `傻@冒`.
    public static let noise = FoldSet(rawValue: 1 << 7)
    /// A repeated character matches once, e.g. `fuuuuck` → `fuck` (only where the dictionary has no word
    /// that continues with the same character).
    public static let repeats = FoldSet(rawValue: 1 << 8)
    /// Latin letters with diacritics → base letter (`fück` → `fuck`); combining marks are ignored.
    public static let diacritics = FoldSet(rawValue: 1 << 9)

    /// Every fold.
    public static let all: FoldSet = [
        .caseFold, .fullWidth, .traditionalChinese, .digitStyles, .letterStyles, .homoglyphs, .zeroWidth, .noise,
        .repeats, .diacritics,
    ]

    static let names: [(FoldSet, String)] = [
        (.caseFold, "caseFold"), (.fullWidth, "fullWidth"), (.traditionalChinese, "traditionalChinese"),
        (.digitStyles, "digitStyles"), (.letterStyles, "letterStyles"), (.homoglyphs, "homoglyphs"),
        (.zeroWidth, "zeroWidth"), (.noise, "noise"), (.repeats, "repeats"), (.diacritics, "diacritics"),
    ]

    public var description: String {
        "[" + FoldSet.names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
