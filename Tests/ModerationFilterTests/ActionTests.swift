import Testing
@testable import ModerationFilter

@Suite("Actions and outcomes")
struct ActionTests {
    let filter: CompiledFilter

    init() throws {
        filter = try CompiledFilter(dictionary: FilterDictionary(entries: [
            FilterEntry(word: "darn", category: "mild", severity: 1, action: .replace),
            FilterEntry(word: "heck", category: "mild", severity: 1, action: .replace, replacement: "h**k"),
            FilterEntry(word: "spam", category: "spam", severity: 2, action: .review),
            FilterEntry(word: "scam", category: "fraud", severity: 3, action: .reject),
        ]))
    }

    @Test("Clean text is allowed and returned unchanged")
    func allow() {
        let outcome = filter.apply("hello world")
        #expect(outcome.verdict == .allow)
        #expect(outcome.text == "hello world")
        #expect(outcome.matches.isEmpty)
    }

    @Test("Replace rewrites with one star per character by default")
    func replaceDefault() {
        let outcome = filter.apply("oh D*A*R*N it")
        #expect(outcome.verdict == .rewrite)
        #expect(outcome.text == "oh ******* it")
        #expect(outcome.matches.map(\.entry.category) == ["mild"])
    }

    @Test("Replace uses the word's replacement text")
    func replaceCustom() {
        let outcome = filter.apply("what the heck, darn")
        #expect(outcome.text == "what the h**k, ****")
        #expect(outcome.verdict == .rewrite)
    }

    @Test("Replace counts characters, not bytes or invisible characters")
    func replaceCountsCharacters() throws {
        let cjk = try makeFilter(["傻逼"])
        #expect(cjk.apply("你傻\u{200B}逼").text == "你**")
    }

    @Test("Review keeps the text and flags it")
    func review() {
        let outcome = filter.apply("buy spam now, darn")
        #expect(outcome.verdict == .review)
        #expect(outcome.text == "buy spam now, ****")
        #expect(outcome.matches.map(\.entry.action) == [.review, .replace])
    }

    @Test("Reject wins over every other action")
    func reject() {
        let outcome = filter.apply("spam scam darn")
        #expect(outcome.verdict == .reject)
        #expect(outcome.matches.map(\.entry.severity) == [2, 3, 1])
    }

    @Test("Verdicts and actions are ordered by strictness")
    func ordering() {
        #expect(FilterVerdict.allow < .rewrite && FilterVerdict.rewrite < .review && FilterVerdict.review < .reject)
        #expect(FilterAction.replace < .review && FilterAction.review < .reject)
    }
}
