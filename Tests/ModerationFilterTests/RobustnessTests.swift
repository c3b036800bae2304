import Testing
@testable import ModerationFilter

@Suite("Robustness")
struct RobustnessTests {
    @Test("A million repeated characters complete, with and without repeat folding")
    func millionRepeats() throws {
        let text = String(repeating: "a", count: 1_000_000)
        let plain = try makeFilter(["a", "aa", "aaa"], options: FilterOptions(folds: [], wholeWordLatin: false))
        #expect(plain.matchCount(in: text) == 333_334)
        let folded = try makeFilter(["a", "aa", "aaa"], options: FilterOptions(wholeWordLatin: false))
        let matches = folded.scan(text)
        #expect(matches.count == 1)
        #expect(matches.first?.utf8Range == 0..<1_000_000)
        let wholeWord = try makeFilter(["a"])
        #expect(wholeWord.matchCount(in: text) == 1)
    }

    @Test("Huge runs of invisible, noise and CJK characters complete")
    func pathologicalRuns() throws {
        let filter = try makeFilter(["fuck", "傻傻", "傻逼"])
        let zeroWidth = "f" + String(repeating: "\u{200B}", count: 1_000_000) + "uck"
        #expect(matchedWords(filter, zeroWidth) == ["fuck"])
        let noise = "f" + String(repeating: "*", count: 1_000_000) + "uck"
        #expect(matchedWords(filter, noise) == [])
        let cjk = String(repeating: "傻", count: 1_000_001)
        #expect(filter.matchCount(in: cjk) == 1)  // repeats fold the run into one match
        let exactCJK = try makeFilter(["傻傻"], options: .exact)
        #expect(exactCJK.matchCount(in: cjk) == 500_000)
        let apply = filter.apply(String(repeating: "傻逼", count: 200_000))
        #expect(apply.matches.count == 200_000)
        #expect(apply.text == String(repeating: "*", count: 400_000))
    }

    @Test("Edge-case inputs never crash", arguments: [
        "", "\u{0301}", "\u{200B}", "😀", "👍🏽", "🇨🇳", "❤️", "\u{FEFF}\u{FEFF}", "a\u{0301}\u{0302}\u{0303}", "\u{10FFFF}",
        "\u{E0001}\u{E0020}", "ｆ", "⑩", "㊿", "𝟗", "\r\n", "\0",
    ])
    func edgeInputs(text: String) throws {
        let filter = try makeFilter(["a", "fuck", "10", "傻逼", "😀"], allow: ["aa"])
        _ = filter.scan(text)
        let outcome = filter.apply(text)
        #expect(outcome.matches.isEmpty == (outcome.verdict == .allow))
        for match in outcome.matches { #expect(match.utf8Range.upperBound <= text.utf8.count) }
    }

    @Test("Random mixed-script inputs keep matches ordered, non-overlapping and on scalar boundaries")
    func randomInputs() throws {
        let pool: [Unicode.Scalar] = Array("abcfkuABC ,.*@_-傻逼冒鸡蛋罵ｆｕＵ①⑩一壹¹Ⓐ😀🅐𝐀аοöé".unicodeScalars)
            + [Unicode.Scalar(0x200B)!, Unicode.Scalar(0x0301)!, Unicode.Scalar(0xFE0F)!, Unicode.Scalar(0x3000)!]
        let filter = try makeFilter(["fuck", "傻逼", "鸡", "abc", "10", "a", "ca"], allow: ["鸡蛋", "abc abc"])
        let exact = try makeFilter(["fuck", "傻逼", "鸡", "abc"], options: .exact)
        var random = TestRandom(state: 42)
        for _ in 0..<3000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<random.below(40) { scalars.append(pool[random.below(pool.count)]) }
            let text = String(scalars)
            let boundaries = Set(text.unicodeScalars.indices.map { text.utf8.distance(from: text.startIndex, to: $0) } + [text.utf8.count])
            for f in [filter, exact] {
                let matches = f.scan(text)
                var last = 0
                for match in matches {
                    #expect(match.utf8Range.lowerBound >= last)
                    #expect(!match.utf8Range.isEmpty)
                    #expect(boundaries.contains(match.utf8Range.lowerBound) && boundaries.contains(match.utf8Range.upperBound))
                    last = match.utf8Range.upperBound
                }
                let outcome = f.apply(text)
                #expect(outcome.matches == matches)
                if matches.isEmpty { #expect(outcome.text == text) }
            }
        }
    }
}
