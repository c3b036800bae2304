/// The overall decision for one text, the strongest action among its matches.
///
/// Ordered `allow` < `rewrite` < `review` < `reject`.
public enum FilterVerdict: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// No dictionary word matched (or every match was covered by the allow-list).
    case allow
    /// Only `replace` words matched; `FilterOutcome.text` holds the rewritten text.
    case rewrite
    /// At least one `review` word matched and none asked to reject.
    case review
    /// At least one `reject` word matched.
    case reject

    init(_ action: FilterAction) {
        switch action {
        case .replace: self = .rewrite
        case .review: self = .review
        case .reject: self = .reject
        }
    }

    var rank: Int {
        switch self {
        case .allow: 0
        case .rewrite: 1
        case .review: 2
        case .reject: 3
        }
    }

    public static func < (lhs: FilterVerdict, rhs: FilterVerdict) -> Bool { lhs.rank < rhs.rank }
}
