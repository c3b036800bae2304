/// One dictionary word found in a text.
public struct FilterMatch: Sendable, Hashable {
    /// The span of the match in the original text, as UTF-8 byte offsets. It runs from the first to the last
    /// character of the word, including noise, invisible and repeated characters skipped inside it.
    public let utf8Range: Range<Int>
    /// The folds that fired inside the span (e.g. `.fullWidth` for `ｆｕｃｋ`, `.noise` for `f*u*c*k`).
    public let folds: FoldSet
    /// The action of the matched entry (also available through `entry`, without touching it).
    public let action: FilterAction
    let hasReplacement: Bool
    private let table: FilterEntryTable
    private let index: Int32

    init(utf8Range: Range<Int>, folds: FoldSet, action: FilterAction, hasReplacement: Bool, table: FilterEntryTable, index: Int) {
        self.utf8Range = utf8Range
        self.folds = folds
        self.action = action
        self.hasReplacement = hasReplacement
        self.table = table
        self.index = Int32(index)
    }

    /// A match for `entry`, for tests and callers that build matches themselves.
    public init(utf8Range: Range<Int>, entry: FilterEntry, folds: FoldSet) {
        self.init(
            utf8Range: utf8Range, folds: folds, action: entry.action, hasReplacement: entry.replacement != nil,
            table: FilterEntryTable([entry]), index: 0)
    }

    /// The dictionary entry that matched.
    public var entry: FilterEntry { table.entries[Int(index)] }

    /// The dictionary word as written.
    public var word: String { entry.word }

    /// The span as a `String.Index` range of `text`, which must be the text that was scanned.
    public func range(in text: String) -> Range<String.Index> {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: utf8Range.lowerBound)
        let upper = utf8.index(lower, offsetBy: utf8Range.count)
        return lower..<upper
    }

    /// The original text of the match.
    public func matchedText(in text: String) -> Substring { text[range(in: text)] }

    public static func == (lhs: FilterMatch, rhs: FilterMatch) -> Bool {
        lhs.utf8Range == rhs.utf8Range && lhs.folds == rhs.folds && lhs.entry == rhs.entry
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(utf8Range)
        hasher.combine(folds)
        hasher.combine(entry)
    }
}
