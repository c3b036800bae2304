/// What a dictionary word asks the filter to do when it matches.
///
/// Ordered by strictness: `replace` < `review` < `reject`. When a dictionary holds the same word twice, the
/// strictest action wins.
public enum FilterAction: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Rewrite the matched span with the word's replacement text (default: one `*` per character).
    case replace
    /// Let the text through unchanged but flag it for a moderator.
    case review
    /// Refuse the text.
    case reject

    var strictness: Int {
        switch self {
        case .replace: 0
        case .review: 1
        case .reject: 2
        }
    }

    public static func < (lhs: FilterAction, rhs: FilterAction) -> Bool { lhs.strictness < rhs.strictness }
}
