/// An error raised while loading or compiling a filter dictionary.
///
/// Callers branch on `code`, a stable string; `message` is for humans.
public struct FilterDictionaryError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: String, Sendable, Hashable {
        case invalidSeverity = "invalid_severity"
        case invalidAction = "invalid_action"
        case unreadableFile = "unreadable_file"
        case wordTooLong = "word_too_long"
        case alphabetTooLarge = "alphabet_too_large"
        case automatonTooLarge = "automaton_too_large"
    }

    private let kind: Kind
    /// A human-readable explanation, including the line number for parse errors.
    public let message: String

    /// A stable identifier for the kind of error.
    public var code: String { kind.rawValue }

    public var description: String { "\(code): \(message)" }

    static func invalidSeverity(line: Int, value: String) -> Self {
        .init(kind: .invalidSeverity, message: "line \(line): severity '\(value)' is not an integer")
    }

    static func invalidAction(line: Int, value: String) -> Self {
        .init(kind: .invalidAction, message: "line \(line): action '\(value)' is not one of replace, review, reject, allow")
    }

    static func unreadableFile(path: String) -> Self {
        .init(kind: .unreadableFile, message: "cannot read \(path) as UTF-8")
    }

    static func wordTooLong(word: String, limit: Int) -> Self {
        .init(kind: .wordTooLong, message: "'\(word.prefix(40))…' has more than \(limit) characters after normalisation")
    }

    static func alphabetTooLarge(count: Int) -> Self {
        .init(kind: .alphabetTooLarge, message: "\(count) distinct characters; the automaton supports at most 26,619")
    }

    static func automatonTooLarge(states: Int) -> Self {
        .init(kind: .automatonTooLarge, message: "\(states) automaton slots; at most 2^24 are supported")
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.kind == rhs.kind && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind); hasher.combine(message) }
}
