import Foundation
import Logging
import ModerationFilter
import ParleyCore
import ParleyStorage
import SQLKit
import ServiceLifecycle

/// The sensitive-word dictionaries and the compiled filter behind them.
///
/// Words come from an optional file (`PARLEY_FILTER_DICTIONARY`, the `word⇥category⇥severity⇥action⇥replacement`
/// format) plus the entries admins edit through the API (stored here, by scope). Scope `global` applies
/// everywhere; any other scope (a conversation id) adds its words on top of the global ones there.
/// Rebuilds happen off the request path and are swapped in atomically; readers never wait.
public final class SensitiveWords: Sendable {
    public static let globalScope = "global"

    let database: Database
    let clock: any WallClock
    let dictionaryFile: String?
    let engine: FilterEngine
    let audit: AuditLog

    /// Starts with an empty filter; `reload()` reads the file and the database entries.
    public init(database: Database, clock: any WallClock, audit: AuditLog, dictionaryFile: String? = nil) {
        self.database = database
        self.clock = clock
        self.audit = audit
        self.dictionaryFile = dictionaryFile
        engine = FilterEngine(filter: try! CompiledFilter(dictionary: FilterDictionary(), options: .standard))
    }

    /// Rebuilds every filter from the file and the database (or `source`, the same data through another
    /// connection, e.g. before the serving pool runs), and swaps them in.
    public func reload(from source: Database? = nil) async throws {
        var global = FilterDictionary()
        if let dictionaryFile {
            do {
                global = try FilterDictionary(contentsOfFile: dictionaryFile)
            } catch {
                throw ParleyError(.unprocessable, code: "moderation.dictionary_invalid",
                                  message: "The dictionary file \(dictionaryFile) is invalid: \(error.code)")
            }
        }
        let rows = try await (source ?? database).sql.raw("SELECT * FROM moderation_filter_words ORDER BY scope, word").all()
        var scoped: [String: FilterDictionary] = [:]
        for row in rows {
            let scope = try row.decode(column: "scope", as: String.self)
            let word = try row.decode(column: "word", as: String.self)
            let action = try row.decode(column: "action", as: String.self)
            var dictionary = scope == Self.globalScope ? global : scoped[scope] ?? FilterDictionary()
            if action == "allow" {
                dictionary.allow(word)
            } else if let filterAction = FilterAction(rawValue: action) {
                dictionary.add(FilterEntry(word: word, category: try row.decode(column: "category", as: String.self),
                                           severity: try row.decode(column: "severity", as: Int.self), action: filterAction,
                                           replacement: try row.decodeOptional("replacement", as: String.self)))
            }
            if scope == Self.globalScope { global = dictionary } else { scoped[scope] = dictionary }
        }
        do {
            try engine.replaceGlobal(with: global)
            let existing = Set(engine.snapshot.scopes.keys)
            for (scope, dictionary) in scoped { try engine.setScope(scope, dictionary: dictionary) }
            for scope in existing.subtracting(scoped.keys) { engine.removeScope(scope) }
        } catch {
            throw ParleyError(.unprocessable, code: "moderation.dictionary_invalid", message: "The dictionary cannot be compiled: \(error.code)")
        }
    }

    /// One dictionary entry as admins see and edit it. `action` is replace, review, reject, or allow (allow-list).
    public struct Entry: Sendable, Equatable {
        public var scope: String
        public var word: String
        public var category: String
        public var severity: Int
        public var action: String
        public var replacement: String?

        public init(scope: String, word: String, category: String, severity: Int, action: String, replacement: String?) {
            self.scope = scope
            self.word = word
            self.category = category
            self.severity = severity
            self.action = action
            self.replacement = replacement
        }
    }

    /// Adds or replaces entries, records it in the audit log and rebuilds the filters.
    public func upsert(_ entries: [Entry], by actor: String) async throws {
        for entry in entries {
            let word = entry.word.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !word.isEmpty, word.count <= 120 else { throw ParleyError.invalidField("word", "1 to 120 characters") }
            guard ["replace", "review", "reject", "allow"].contains(entry.action) else {
                throw ParleyError.invalidField("action", "replace, review, reject or allow")
            }
            guard (0...10).contains(entry.severity) else { throw ParleyError.invalidField("severity", "0 to 10") }
            guard !entry.scope.isEmpty, entry.scope.count <= 128 else { throw ParleyError.invalidField("scope", "1 to 128 characters") }
        }
        let now = clock.now()
        try await database.transaction { sql in
            for entry in entries {
                try await sql.raw("""
                    INSERT INTO moderation_filter_words (scope, word, category, severity, action, replacement, updated_at)
                    VALUES (\(bind: entry.scope), \(bind: entry.word.trimmingCharacters(in: .whitespacesAndNewlines)), \(bind: entry.category),
                        \(bind: entry.severity), \(bind: entry.action), \(bind: entry.replacement), \(bind: now.unixMilliseconds))
                    ON CONFLICT (scope, word) DO UPDATE SET category = excluded.category, severity = excluded.severity,
                        action = excluded.action, replacement = excluded.replacement, updated_at = excluded.updated_at
                    """).run()
            }
            _ = try await audit.record(actor: actor, action: "filter.words_upserted", subject: "filter:dictionary",
                                       reason: "\(entries.count) entries", details: ["words": .array(entries.map { .string($0.word) })],
                                       at: now, on: sql)
        }
        try await reload()
    }

    /// Removes one entry; returns false when it did not exist.
    public func remove(scope: String, word: String, by actor: String) async throws -> Bool {
        let now = clock.now()
        let removed = try await database.transaction { sql -> Bool in
            let rows = try await sql.raw("""
                DELETE FROM moderation_filter_words WHERE scope = \(bind: scope) AND word = \(bind: word) RETURNING word
                """).all()
            if !rows.isEmpty {
                _ = try await audit.record(actor: actor, action: "filter.word_removed", subject: "filter:dictionary", reason: word,
                                           details: ["scope": .string(scope)], at: now, on: sql)
            }
            return !rows.isEmpty
        }
        if removed { try await reload() }
        return removed
    }

    /// The entries of one scope (not those of the file), by word, with a cursor.
    public func entries(scope: String, page: PageRequest) async throws -> Page<Entry> {
        let after = try page.cursor.map { cursor throws(ParleyError) in try Cursor.decode(cursor) } ?? ""
        let rows = try await database.sql.raw("""
            SELECT * FROM moderation_filter_words WHERE scope = \(bind: scope) AND word > \(bind: after) ORDER BY word LIMIT \(bind: page.limit + 1)
            """).all()
        let entries = try rows.map { row in
            Entry(scope: scope, word: try row.decode(column: "word", as: String.self), category: try row.decode(column: "category", as: String.self),
                  severity: try row.decode(column: "severity", as: Int.self), action: try row.decode(column: "action", as: String.self),
                  replacement: try row.decodeOptional("replacement", as: String.self))
        }
        return Page(fetched: entries, limit: page.limit, position: \.word)
    }

    /// What the filter would do to a text, for admins trying a dictionary out.
    public struct TestResult: Sendable, Equatable {
        public struct Hit: Sendable, Equatable {
            public var word: String
            public var category: String
            public var action: String
            /// Where the match stands in the original text, in UTF-8 bytes, and what was matched there.
            public var utf8Start: Int
            public var utf8End: Int
            public var matched: String
            /// The normalisations that had to fire for this match (case folding, full-width, noise, ...).
            public var folds: String
        }

        public var verdict: String
        public var text: String
        public var hits: [Hit]
    }

    public func test(_ text: String, scope: String?) -> TestResult {
        let outcome = engine.apply(text, scope: scope)
        return TestResult(verdict: outcome.verdict.rawValue, text: outcome.text, hits: outcome.matches.map { match in
            TestResult.Hit(word: match.word, category: match.entry.category, action: match.action.rawValue,
                           utf8Start: match.utf8Range.lowerBound, utf8End: match.utf8Range.upperBound,
                           matched: String(match.matchedText(in: text)), folds: match.folds.description)
        })
    }
}

/// The sensitive-word filter as a step of `ModerationPolicy`: masks `replace` words, holds `review`
/// words for a moderator, refuses `reject` words. A conversation's own word list applies on top of the global one.
public struct SensitiveWordScreen: TextScreen {
    public let name = "sensitive_words"
    let words: SensitiveWords

    public init(words: SensitiveWords) {
        self.words = words
    }

    public func screen(_ text: String, in submission: ContentSubmission) async throws -> TextScreenOutcome {
        let outcome = words.engine.apply(text, scope: submission.context["conversation_id"]?.stringValue)
        let hits = outcome.matches.map { "\($0.entry.category):\($0.word)" }
        switch outcome.verdict {
        case .allow:
            return .allow
        case .rewrite:
            return .rewrite(outcome.text)
        case .review:
            return .review(reason: "sensitive words for review: \(hits.joined(separator: ", "))")
        case .reject:
            return .reject(code: "moderation.sensitive_word", reason: "The message contains words that are not allowed here.")
        }
    }
}

/// Rebuilds the filters now and then, so edits made on another node reach this one (a minute at most).
public struct SensitiveWordsReloader: Service {
    let words: SensitiveWords
    let interval: Duration
    let logger: Logger

    public init(words: SensitiveWords, interval: Duration = .seconds(60), logger: Logger) {
        self.words = words
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                do {
                    try await words.reload()
                } catch {
                    logger.warning("sensitive-word reload failed; keeping the previous filter", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
