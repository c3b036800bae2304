import Testing
@testable import ModerationFilter

@Suite("Matching semantics")
struct MatchingTests {
    @Test("A Latin word does not match inside a longer word")
    func wholeWordLatin() throws {
        let filter = try makeFilter(["ass"])
        #expect(matchedWords(filter, "class") == [])
        #expect(matchedWords(filter, "classic bass assassin") == [])
        #expect(matchedWords(filter, "kiss my ass!") == ["ass"])
        #expect(matchedWords(filter, "ASS") == ["ass"])
        #expect(matchedWords(filter, "(ass)") == ["ass"])
        #expect(matchedWords(filter, "my_ass") == ["ass"])  // noise characters (here `_`) are boundaries
        #expect(matchedWords(filter, "傻ass") == ["ass"])  // CJK next to a Latin word is a boundary
    }

    @Test("Mid-word pruning keeps every whole-word match, including after noise inside a longer candidate")
    func midWordPruning() throws {
        let filter = try makeFilter(["abce", "cd", "傻b", "bcd"])
        #expect(matchedWords(filter, "ab-cd") == ["cd"])  // "cd" starts after noise: a word start
        #expect(matchedWords(filter, "abcd") == [])  // "cd" and "bcd" start mid-word
        #expect(matchedWords(filter, "x傻b") == ["傻b"])  // CJK-initial words are never pruned
        #expect(matchedWords(filter, "abce cd") == ["abce", "cd"])
        let loose = try makeFilter(["cd", "bcd"], options: FilterOptions(wholeWordLatin: false))
        #expect(matchedWords(loose, "abcd") == ["bcd"])  // no pruning without whole-word matching
    }

    @Test("CJK words match anywhere")
    func cjkAnywhere() throws {
        let filter = try makeFilter(["傻逼"])
        #expect(matchedWords(filter, "你是傻逼吗") == ["傻逼"])
        #expect(matchedWords(filter, "abc傻逼def") == ["傻逼"])
    }

    @Test("Turning whole-word matching off matches inside words")
    func wholeWordOff() throws {
        let filter = try makeFilter(["ass"], options: FilterOptions(wholeWordLatin: false))
        #expect(matchedWords(filter, "class") == ["ass"])
    }

    @Test("Matches are leftmost-longest and non-overlapping")
    func leftmostLongest() throws {
        let options = FilterOptions(folds: [], wholeWordLatin: false)
        let filter = try makeFilter(["he", "hers", "his", "she"], options: options)
        #expect(matchedWords(filter, "ushers") == ["she"])
        let nested = try makeFilter(["abc", "abcdef", "cde"], options: options)
        #expect(matchedWords(nested, "abcdefg") == ["abcdef"])
        #expect(matchedWords(nested, "abcdxcde") == ["abc", "cde"])
        let shorter = try makeFilter(["bcd", "abcdex"], options: options)
        #expect(matchedWords(shorter, "abcdey") == ["bcd"])
        let sameStart = try makeFilter(["ab", "abcd", "abc"], options: options)
        #expect(matchedWords(sameStart, "abcabcdab") == ["abc", "abcd", "ab"])
    }

    @Test("A failed longer candidate does not hide a shorter valid word")
    func boundaryFallsBackToShorter() throws {
        let filter = try makeFilter(["ab", "abcd"])
        #expect(matchedWords(filter, "ab-cde") == ["ab"])  // abcd (via noise) fails its right boundary
        #expect(matchedWords(filter, "ab-cd!") == ["abcd"])
    }

    @Test("An allow-listed phrase covering a match suppresses it")
    func allowList() throws {
        let filter = try makeFilter(["鸡"], allow: ["鸡蛋"])
        #expect(matchedWords(filter, "我吃鸡蛋") == [])
        #expect(matchedWords(filter, "我吃鸡") == ["鸡"])
        #expect(matchedWords(filter, "鸡蛋和鸡") == ["鸡"])
        #expect(filter.apply("鸡蛋和鸡").text == "鸡蛋和*")
    }

    @Test("An allow-listed phrase that only overlaps a match does not suppress it")
    func allowListPartialOverlap() throws {
        let filter = try makeFilter(["bcd"], allow: ["ab"], options: FilterOptions(wholeWordLatin: false))
        #expect(matchedWords(filter, "abcd") == ["bcd"])
        let covering = try makeFilter(["bcd"], allow: ["abcde"], options: FilterOptions(wholeWordLatin: false))
        #expect(matchedWords(covering, "abcde") == [])
        #expect(matchedWords(covering, "abcdx") == ["bcd"])
    }

    @Test("The allow-list uses the same normalisation as the deny list")
    func allowListIsFolded() throws {
        let filter = try makeFilter(["scunthorpe", "cunt"], allow: ["scunthorpe"], options: FilterOptions(wholeWordLatin: false))
        #expect(matchedWords(filter, "SCUNTHORPE") == [])
        #expect(matchedWords(filter, "Ｃunt") == ["cunt"])
    }

    @Test("Spans map back to the original text with zero-width, noise and full-width characters")
    func spanMapping() throws {
        let filter = try makeFilter(["fuck", "傻逼"])
        let text = "hi ｆ\u{200B}ｕ*ｃｋ! 你傻\u{200D}@逼"
        let matches = filter.scan(text)
        #expect(matches.map(\.word) == ["fuck", "傻逼"])
        #expect(matches.map { String($0.matchedText(in: text)) } == ["ｆ\u{200B}ｕ*ｃｋ", "傻\u{200D}@逼"])
        #expect(matches[0].utf8Range == 3..<(3 + "ｆ\u{200B}ｕ*ｃｋ".utf8.count))
        #expect(matches[0].folds == [.fullWidth, .zeroWidth, .noise])
        let range = matches[1].range(in: text)
        #expect(text[range] == "傻\u{200D}@逼")
        #expect(text.utf8.distance(from: text.startIndex, to: range.lowerBound) == matches[1].utf8Range.lowerBound)
    }

    @Test("Overlapping counting reports every occurrence")
    func overlappingCount() throws {
        let filter = try makeFilter(["he", "hers", "his", "she"], options: .exact)
        #expect(filter.countOverlappingMatches(in: "ushers") == 3)  // she, he, hers
        #expect(filter.matchCount(in: "ushers") == 1)
    }
}
