/// One deny-list word with its metadata.
public struct FilterEntry: Sendable, Hashable, Codable {
    /// The word as written in the dictionary (before normalisation).
    public var word: String
    /// A free-form category such as `"abuse"` or `"spam"`.
    public var category: String
    /// A caller-defined severity; larger is more severe.
    public var severity: Int
    /// What to do when the word matches.
    public var action: FilterAction
    /// Replacement text for `replace` matches; `nil` means one `*` per character of the matched text.
    public var replacement: String?

    public init(
        word: String,
        category: String = FilterEntry.defaultCategory,
        severity: Int = 1,
        action: FilterAction = .replace,
        replacement: String? = nil
    ) {
        self.word = word
        self.category = category
        self.severity = severity
        self.action = action
        self.replacement = replacement
    }

    public static let defaultCategory = "default"

    /// Whether `self` should win over `other` when both describe the same word: stricter action first,
    /// then higher severity.
    func isStricter(than other: FilterEntry) -> Bool {
        if action != other.action { return action > other.action }
        return severity > other.severity
    }
}
