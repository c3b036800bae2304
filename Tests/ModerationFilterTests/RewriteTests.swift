import Testing
@testable import ModerationFilter

/// The rewrite `apply` should produce, built independently with `String` APIs from the reported matches.
func referenceRewrite(_ text: String, _ matches: [FilterMatch]) -> String {
    var out = ""
    var last = text.startIndex
    for match in matches where match.action == .replace {
        let range = match.range(in: text)
        out += text[last..<range.lowerBound]
        if let replacement = match.entry.replacement {
            out += replacement
        } else {
            let visible = text[range].unicodeScalars.filter { !FoldTables.isZeroWidth($0.value) && !FoldTables.isCombiningMark($0.value) }
            out += String(repeating: "*", count: visible.count)
        }
        last = range.upperBound
    }
    out += text[last...]
    return out
}

/// Checks that `text` is a well-formed `String` that compares, hashes and re-decodes like a validated one.
func expectWellFormed(_ text: String, _ expected: String) {
    #expect(text == expected)
    #expect(text.hashValue == expected.hashValue)
    #expect(Array(text.utf8) == Array(expected.utf8))
    #expect(String(decoding: Array(text.utf8), as: UTF8.self) == text)
    #expect(text.unicodeScalars.count == expected.unicodeScalars.count)
    #expect(text.count == expected.count)
    if #available(macOS 26, iOS 26, watchOS 26, tvOS 26, visionOS 26, *) {
        // The flags validation would set (the rewrite skips validation): ASCII, and NFC for ASCII text.
        let isASCII = text.utf8.allSatisfy { $0 < 0x80 }
        #expect(text.utf8Span.isKnownASCII == isASCII)
        #expect(text.utf8Span.isKnownNFC == String(decoding: Array(text.utf8), as: UTF8.self).utf8Span.isKnownNFC)
    }
}

@Suite("Rewriting")
struct RewriteTests {
    let filter: CompiledFilter

    init() throws {
        filter = try CompiledFilter(dictionary: FilterDictionary(entries: [
            FilterEntry(word: "傻逼"),
            FilterEntry(word: "坏蛋", replacement: "好人"),
            FilterEntry(word: "😀", replacement: "🙂"),
            FilterEntry(word: "fuck", replacement: "f**k"),
            FilterEntry(word: "darn"),
            FilterEntry(word: "spam", action: .review),
            FilterEntry(word: "scam", action: .reject),
        ]))
    }

    @Test("Multi-byte spans become stars, one per character; replacements may be multi-byte")
    func multiByte() {
        let text = "你傻逼吗 坏蛋! 😀 ｆｕｃｋ"
        let outcome = filter.apply(text)
        #expect(outcome.matches.map(\.word) == ["傻逼", "坏蛋", "😀", "fuck"])
        expectWellFormed(outcome.text, "你**吗 好人! 🙂 f**k")
        expectWellFormed(outcome.text, referenceRewrite(text, outcome.matches))
    }

    @Test("Adjacent matches, and matches at the very start and end of the text")
    func adjacentAndEdges() {
        let cases: [(String, String)] = [
            ("傻逼", "**"),
            ("darn", "****"),
            ("傻逼坏蛋傻逼", "**好人**"),
            ("傻逼😀坏蛋", "**🙂好人"),
            ("darn-darn", "****-****"),
            ("darn 傻逼", "**** **"),
            ("傻逼 x", "** x"),
            ("x 傻逼", "x **"),
            ("傻\u{200B}逼", "**"),
            ("ｄａｒｎ!", "****!"),
        ]
        for (text, expected) in cases {
            let outcome = filter.apply(text)
            expectWellFormed(outcome.text, expected)
            expectWellFormed(outcome.text, referenceRewrite(text, outcome.matches))
            #expect(outcome.verdict == .rewrite)
        }
    }

    @Test("Review and reject matches stay as written between rewritten ones")
    func mixedActions() {
        let text = "darn spam 傻逼 scam 坏蛋"
        let outcome = filter.apply(text)
        #expect(outcome.verdict == .reject)
        #expect(outcome.matches.map(\.action) == [.replace, .review, .replace, .reject, .replace])
        expectWellFormed(outcome.text, "**** spam ** scam 好人")
        let reviewOnly = filter.apply("spam 傻逼")
        #expect(reviewOnly.verdict == .review)
        expectWellFormed(reviewOnly.text, "spam **")
    }

    @Test("Texts with only review or reject matches come back unchanged")
    func noRewrite() {
        let text = "spam and scam"
        let outcome = filter.apply(text)
        #expect(outcome.text == text)
        #expect(outcome.matches.count == 2)
    }

    @Test("More matches than the inline buffer holds", arguments: [31, 32, 33, 100, 5000])
    func manyMatches(count: Int) {
        let text = Array(repeating: "傻逼", count: count).joined(separator: "x")
        let scanned = filter.scan(text)
        #expect(scanned.count == count)
        #expect(filter.matchCount(in: text) == count)
        let outcome = filter.apply(text)
        #expect(outcome.matches == scanned)
        expectWellFormed(outcome.text, Array(repeating: "**", count: count).joined(separator: "x"))
        var last = 0
        for match in scanned {
            #expect(match.utf8Range.lowerBound >= last)
            last = match.utf8Range.upperBound
        }
    }

    @Test("Long texts (rewritten through a heap buffer) match the reference")
    func longTexts() {
        var random = TestRandom(state: 7)
        let pieces = ["傻逼", "坏蛋", "😀", " fuck ", " darn ", " spam ", "你好", "hello ", "ｆｕｃｋ", "é", "👍🏽", "\u{200B}"]
        for size in [1_000, 1_025, 4_096, 20_000] {
            var text = ""
            while text.utf8.count < size { text += pieces[random.below(pieces.count)] }
            let outcome = filter.apply(text)
            #expect(!outcome.matches.isEmpty)
            expectWellFormed(outcome.text, referenceRewrite(text, outcome.matches))
            #expect(outcome.matches == filter.scan(text))
        }
    }

    @Test("Random texts: the rewrite equals the reference built from the matches")
    func randomDifferential() throws {
        let pool: [String] = Array("傻逼坏蛋鸡蛋fuckdarnFUCK ,.*@_-ｆｕｃｋ①⑩Ⓐ😀🙂🅐𝐀аοöé".map(String.init))
            + ["\u{200B}", "\u{0301}", "\u{FE0F}", "\u{3000}", "👍🏽", "🇨🇳"]
        let filter = try CompiledFilter(
            dictionary: FilterDictionary(
                entries: [
                    FilterEntry(word: "傻逼"), FilterEntry(word: "坏蛋", replacement: "好人"),
                    FilterEntry(word: "fuck", replacement: "f**k"), FilterEntry(word: "darn", replacement: "😇"),
                    FilterEntry(word: "😀", replacement: ""), FilterEntry(word: "鸡"), FilterEntry(word: "a"),
                    FilterEntry(word: "10", action: .review),
                ],
                allowList: ["鸡蛋"]))
        var random = TestRandom(state: 99)
        for _ in 0..<3000 {
            var text = ""
            for _ in 0..<random.below(60) { text += pool[random.below(pool.count)] }
            let outcome = filter.apply(text)
            let scanned = filter.scan(text)
            #expect(outcome.matches == scanned)
            expectWellFormed(outcome.text, referenceRewrite(text, scanned))
        }
    }

    @Test("A text made from a substring is rewritten like any other")
    func substringsAndCopies() {
        let base = "xx 傻逼 darn yy"
        let slice = base.dropFirst(3).dropLast(3)
        let outcome = filter.apply(String(slice))
        expectWellFormed(outcome.text, "** ****")
    }
}
