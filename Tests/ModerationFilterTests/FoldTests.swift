import Testing
@testable import ModerationFilter

@Suite("Normalisation folds")
struct FoldTests {
    @Test("Case folding matches upper-case text and reports the fold")
    func caseFolding() throws {
        let filter = try makeFilter(["fuck"])
        let matches = filter.scan("WHAT THE FUCK")
        #expect(matches.map(\.word) == ["fuck"])
        #expect(matches.first?.folds == [.caseFold])
    }

    @Test("Full-width letters match their half-width word")
    func fullWidth() throws {
        let filter = try makeFilter(["fuck"])
        let matches = filter.scan("ｆｕｃｋ")
        #expect(matches.map(\.word) == ["fuck"])
        #expect(matches.first?.folds.contains(.fullWidth) == true)
        #expect(matches.first?.utf8Range == 0..<12)
    }

    @Test("Traditional Chinese matches the simplified word and the other way round")
    func traditionalChinese() throws {
        let simplified = try makeFilter(["骂人"])
        let matches = simplified.scan("你罵人")
        #expect(matches.map(\.word) == ["骂人"])
        #expect(matches.first?.folds == [.traditionalChinese])
        let traditional = try makeFilter(["雞巴"])
        #expect(matchedWords(traditional, "鸡巴") == ["雞巴"])
    }

    @Test("Every digit style folds to ASCII digits", arguments: [
        "①①⓪", "⑴⑴0", "⒈⒈〇", "一一零", "壹壹零", "¹¹⁰", "₁₁₀", "１１０", "𝟏𝟏𝟎", "❶❶⓿", "➀➀0", "㈠㈠0", "㊀㊀0",
    ])
    func digitStyles(text: String) throws {
        let filter = try makeFilter(["110"])
        let matches = filter.scan("call \(text) now")
        #expect(matches.map(\.word) == ["110"], "\(text)")
        #expect(matches.first.map { String($0.matchedText(in: "call \(text) now")) } == text)
    }

    @Test("Styled numbers above nine expand to two digits")
    func numbersAboveNine() throws {
        let filter = try makeFilter(["10"])
        #expect(matchedWords(filter, "⑩") == ["10"])
        #expect(matchedWords(filter, "㊿") == [])
        let fifty = try makeFilter(["50"])
        #expect(matchedWords(fifty, "㊿") == ["50"])
    }

    @Test("Enclosed and mathematical letters fold to ASCII", arguments: [
        "Ⓕⓤ𝐜𝓀", "🅕🅤🅒🅚", "🄵🅄🄲🄺", "⒡⒰⒞⒦", "𝔣𝔲𝔠𝔨", "𝙵𝚄𝙲𝙺",
    ])
    func letterStyles(text: String) throws {
        let filter = try makeFilter(["fuck"])
        let matches = filter.scan(text)
        #expect(matches.map(\.word) == ["fuck"], "\(text)")
        #expect(matches.first?.folds.contains(.letterStyles) == true)
        #expect(matches.first?.utf8Range == 0..<text.utf8.count)
    }

    @Test("Cyrillic and Greek look-alikes fold to Latin")
    func homoglyphs() throws {
        let filter = try makeFilter(["porn", "ass"])
        let matches = filter.scan("рοrn and аss")  // Cyrillic р, Greek ο, Cyrillic а
        #expect(matches.map(\.word) == ["porn", "ass"])
        #expect(matches.allSatisfy { $0.folds.contains(.homoglyphs) })
        #expect(matchedWords(filter, "РОRN") == ["porn"])  // Cyrillic capitals, then case folding
    }

    @Test("Zero-width characters inside a word are ignored")
    func zeroWidth() throws {
        let filter = try makeFilter(["fuck"])
        let text = "f\u{200B}u\u{00AD}c\u{FEFF}k\u{2060}"
        let matches = filter.scan(text)
        #expect(matches.map(\.word) == ["fuck"])
        #expect(matches.first?.folds == [.zeroWidth])
        #expect(matches.first.map { String($0.matchedText(in: text)) } == "f\u{200B}u\u{00AD}c\u{FEFF}k")
    }

    @Test("Noise characters between letters are skipped up to the limit")
    func noise() throws {
        let filter = try makeFilter(["fuck", "傻冒"])
        #expect(matchedTexts(filter, "f*u*c*k off") == ["f*u*c*k"])
        #expect(matchedTexts(filter, "你这个傻@冒") == ["傻@冒"])
        #expect(matchedWords(filter, "f.-_u#c^k") == ["fuck"])
        #expect(filter.scan("f*u*c*k").first?.folds == [.noise])
        #expect(matchedWords(filter, "f****uck") == [])  // 4 > maxNoiseRun (3)
        let strict = try makeFilter(["fuck"], options: FilterOptions(maxNoiseRun: 1))
        #expect(matchedWords(strict, "f**uck") == [])
        #expect(matchedWords(strict, "f*u*c*k") == ["fuck"])
    }

    @Test("Spaces are skipped only between single letters")
    func spacedLetters() throws {
        let filter = try makeFilter(["fuck", "傻冒", "bakodu"])
        #expect(matchedTexts(filter, "f u c k") == ["f u c k"])
        #expect(matchedTexts(filter, "傻 冒") == ["傻 冒"])
        #expect(matchedWords(filter, "bako du") == [])  // ordinary words are not glued together
    }

    @Test("Repeated characters match once unless the word itself repeats them")
    func repeats() throws {
        let filter = try makeFilter(["fuck", "book"])
        let text = "fuuuuuck"
        let matches = filter.scan(text)
        #expect(matches.map(\.word) == ["fuck"])
        #expect(matches.first?.folds == [.repeats])
        #expect(matchedTexts(filter, "fuckkkkk!") == ["fuckkkkk"])
        #expect(matchedTexts(filter, "boooook") == ["boooook"])
        #expect(matchedWords(filter, "bok") == [])
    }

    @Test("Diacritics and combining marks are ignored")
    func diacritics() throws {
        let filter = try makeFilter(["fuck"])
        #expect(matchedWords(filter, "fück") == ["fuck"])
        #expect(matchedWords(filter, "fu\u{0308}ck") == ["fuck"])
        #expect(filter.scan("fück").first?.folds == [.diacritics])
    }

    @Test("Switched-off folds do not fire")
    func foldsOff() throws {
        let exact = try makeFilter(["fuck"], options: .exact)
        #expect(matchedWords(exact, "FUCK ｆｕｃｋ f*u*c*k fuuuck f\u{200B}uck") == [])
        #expect(matchedWords(exact, "fuck") == ["fuck"])
        let noCase = try makeFilter(["fuck"], options: FilterOptions(folds: FoldSet.all.subtracting(.caseFold)))
        #expect(matchedWords(noCase, "FUCK") == [])
        #expect(matchedWords(noCase, "ｆｕｃｋ") == ["fuck"])
    }

    @Test("Dictionary words are normalised the same way as the text")
    func dictionaryIsFolded() throws {
        let filter = try makeFilter(["ＦＵＣＫ", "f*ck"])
        #expect(matchedWords(filter, "fuck") == ["ＦＵＣＫ"])
        #expect(matchedWords(filter, "fck") == ["f*ck"])
    }
}
