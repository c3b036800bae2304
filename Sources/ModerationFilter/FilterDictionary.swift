import Foundation

/// A set of deny-list words with metadata, plus an allow-list of phrases that override them.
///
/// A dictionary is a plain value: build it from entries or from text, combine it with `layered(over:)` for
/// per-scope dictionaries, then compile it with `CompiledFilter(dictionary:options:)`.
///
/// Duplicates are tolerated: when a word appears more than once the strictest entry wins (action first,
/// then severity). Words that become identical after normalisation (e.g. `FUCK` and `fuck`) are merged
/// by the same rule when compiling.
public struct FilterDictionary: Sendable, Hashable {
    /// Deny-list entries keyed by their word as written.
    public private(set) var entries: [String: FilterEntry] = [:]
    /// Allow-listed phrases. An allow-listed phrase that covers a match suppresses it.
    public private(set) var allowList: Set<String> = []

    public init() {}

    public init(entries: some Sequence<FilterEntry>, allowList: some Sequence<String> = [String]()) {
        for entry in entries { add(entry) }
        for phrase in allowList { allow(phrase) }
    }

    /// The number of deny-list entries (after removing duplicates).
    public var count: Int { entries.count }

    /// Adds a deny-list entry; if the word is already present the stricter entry is kept.
    public mutating func add(_ entry: FilterEntry) {
        guard !entry.word.isEmpty else { return }
        if let existing = entries[entry.word], !entry.isStricter(than: existing) { return }
        entries[entry.word] = entry
    }

    /// Adds a phrase to the allow-list.
    public mutating func allow(_ phrase: String) {
        guard !phrase.isEmpty else { return }
        allowList.insert(phrase)
    }

    /// Returns this dictionary with `overlay`'s entries and allow-list added on top of it.
    ///
    /// Use it for per-scope dictionaries: `scope.layered(over: global)`. A word present in both keeps the
    /// stricter entry; allow-lists are united.
    public func layered(over base: FilterDictionary) -> FilterDictionary {
        var merged = base
        for entry in entries.values { merged.add(entry) }
        merged.allowList.formUnion(allowList)
        return merged
    }

    // MARK: - Text format

    /// Parses the dictionary text format.
    ///
    /// One word per line, with optional tab-separated fields: `word<TAB>category<TAB>severity<TAB>action<TAB>replacement`.
    /// Empty fields take the defaults (category `default`, severity 1, action `replace`, replacement `*` per
    /// character). The action `allow` puts the word on the allow-list. Lines whose first non-blank character
    /// is `#` are comments; blank lines are skipped; duplicates keep the strictest action.
    ///
    /// - Throws: `FilterDictionaryError` with code `invalid_severity` or `invalid_action`, naming the line.
    public init(parsing text: String) throws(FilterDictionaryError) {
        var lineNumber = 0
        // Split on every line break, including "\r\n" (a single Character in Swift).
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.first == "#" { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { String($0) }
            let word = fields[0].trimmingSpaces()
            if word.isEmpty { continue }
            var entry = FilterEntry(word: word)
            if fields.count > 1, !fields[1].trimmingSpaces().isEmpty { entry.category = fields[1].trimmingSpaces() }
            if fields.count > 2 {
                let value = fields[2].trimmingSpaces()
                if !value.isEmpty {
                    guard let severity = Int(value) else { throw .invalidSeverity(line: lineNumber, value: value) }
                    entry.severity = severity
                }
            }
            if fields.count > 3 {
                let value = fields[3].trimmingSpaces().lowercased()
                if value == "allow" {
                    allow(word)
                    continue
                }
                if !value.isEmpty {
                    guard let action = FilterAction(rawValue: value) else {
                        throw .invalidAction(line: lineNumber, value: value)
                    }
                    entry.action = action
                }
            }
            if fields.count > 4, !fields[4].isEmpty { entry.replacement = fields[4] }
            add(entry)
        }
    }

    /// Loads a dictionary file in the text format described at `init(parsing:)`.
    ///
    /// - Throws: `FilterDictionaryError` with code `unreadable_file`, or a parse error.
    public init(contentsOfFile path: String) throws(FilterDictionaryError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadableFile(path: path) }
        try self.init(parsing: String(decoding: data, as: UTF8.self))
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " { view = view.dropFirst() }
        while let last = view.last, last == " " { view = view.dropLast() }
        return String(view)
    }
}
