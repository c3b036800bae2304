/// The result of `apply`: the rewritten text, the overall verdict and the matches.
public struct FilterOutcome: Sendable, Hashable {
    /// The input with every `replace` match rewritten; `review` and `reject` matches are left as they are.
    /// Equal to the input when there is nothing to replace.
    public let text: String
    /// The strongest action among the matches: `allow` when there are none.
    public let verdict: FilterVerdict
    /// The matches, in text order, non-overlapping.
    public let matches: [FilterMatch]

    public init(text: String, verdict: FilterVerdict, matches: [FilterMatch]) {
        self.text = text
        self.verdict = verdict
        self.matches = matches
    }
}
