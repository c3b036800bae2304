import Foundation
import Testing
@testable import ModerationFilter

@Suite("Dictionaries")
struct DictionaryTests {
    static let sample = """
        # Parley test dictionary
          # an indented comment

        fuck\tprofanity\t3\treplace
        fuck\tprofanity\t5\treject
        shit
        傻逼\tinsult\t2\treview\t[censored]
        class\t\t\tallow
        dup\r
        dup
        fuck\tprofanity\t9\treplace

        """

    @Test("The text format skips comments and blank lines and keeps the strictest duplicate")
    func parsing() throws {
        let dictionary = try FilterDictionary(parsing: Self.sample)
        #expect(dictionary.count == 4)
        #expect(dictionary.entries["fuck"] == FilterEntry(word: "fuck", category: "profanity", severity: 5, action: .reject))
        #expect(dictionary.entries["shit"] == FilterEntry(word: "shit"))
        #expect(dictionary.entries["傻逼"]?.replacement == "[censored]")
        #expect(dictionary.entries["傻逼"]?.action == .review)
        #expect(dictionary.entries["dup"] != nil)
        #expect(dictionary.allowList == ["class"])
    }

    @Test("Bad fields are reported with a stable code and the line number")
    func badFields() {
        let severity = #expect(throws: FilterDictionaryError.self) { try FilterDictionary(parsing: "ok\r\nword\tcat\tloud\n") }
        #expect(severity?.code == "invalid_severity")
        #expect(severity?.message.contains("line 2") == true)
        let action = #expect(throws: FilterDictionaryError.self) { try FilterDictionary(parsing: "word\tcat\t1\tban\n") }
        #expect(action?.code == "invalid_action")
    }

    @Test("Words that normalise to the same key merge to the strictest entry")
    func normalisedDuplicates() throws {
        let dictionary = FilterDictionary(entries: [
            FilterEntry(word: "FUCK", severity: 1, action: .replace),
            FilterEntry(word: "fuck", severity: 1, action: .reject),
            FilterEntry(word: "ｆｕｃｋ", severity: 1, action: .review),
        ])
        let filter = try CompiledFilter(dictionary: dictionary)
        #expect(filter.statistics.wordCount == 1)
        #expect(filter.scan("Fuck").first?.entry.action == .reject)
    }

    @Test("Loading from a file works and a missing file throws")
    func fileLoading() throws {
        let path = "/tmp/parley-filter-test-\(UInt64.random(in: 0...UInt64.max)).txt"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.sample.utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dictionary = try FilterDictionary(contentsOfFile: path)
        #expect(dictionary.count == 4)
        #expect(throws: FilterDictionaryError.self) { try FilterDictionary(contentsOfFile: path + ".missing") }
    }

    @Test("A scope dictionary layers over the global one")
    func layering() throws {
        let global = FilterDictionary(entries: [FilterEntry(word: "darn"), FilterEntry(word: "spam", action: .review)])
        let scope = FilterDictionary(entries: [FilterEntry(word: "spam", action: .reject), FilterEntry(word: "promo")], allowList: ["darn it"])
        let merged = scope.layered(over: global)
        #expect(Set(merged.entries.keys) == ["darn", "spam", "promo"])
        #expect(merged.entries["spam"]?.action == .reject)
        #expect(merged.allowList == ["darn it"])
    }

    @Test("Empty and noise-only words are ignored; overlong words are rejected")
    func edgeWords() throws {
        let filter = try makeFilter(["", "***", "ok"])
        #expect(filter.statistics.wordCount == 1)
        let long = String(repeating: "a", count: CompiledFilter.maxWordLength + 1)
        let error = #expect(throws: FilterDictionaryError.self) { try makeFilter([long]) }
        #expect(error?.code == "word_too_long")
    }

    @Test("Labels skip the values whose Bloom bit would be 13…15; the alphabet limit follows from that")
    func labelNumbering() {
        var previous: UInt16 = 0
        for k in 0..<CompiledFilter.maxAlphabet {
            let label = CompiledFilter.label(number: k)
            #expect(label > previous && label >= CompiledFilter.firstLabel && label <= CompiledFilter.labelMask)
            #expect(label & 15 < 13)
            #expect(DoubleArrayLayout.bloomBit(label) & DoubleArrayLayout.bloomMask == DoubleArrayLayout.bloomBit(label))
            previous = label
        }
        #expect(CompiledFilter.maxAlphabet == 26_619)
        #expect(Int(CompiledFilter.label(number: CompiledFilter.maxAlphabet)) > Int(CompiledFilter.labelMask))
    }

    @Test("The largest alphabet compiles and matches every character; one more character is refused")
    func largestAlphabet() throws {
        // Distinct code points without folds: CJK ideographs, then Hangul syllables.
        let limit = CompiledFilter.maxAlphabet
        var scalars = [String]()
        for k in 0...limit {
            let value: UInt32 = k < 20_000 ? 0x4E00 + UInt32(k) : 0xAC00 + UInt32(k - 20_000)
            scalars.append(String(Unicode.Scalar(value)!))
        }
        var words = [String]()
        for k in stride(from: 0, to: limit - 1, by: 2) { words.append(scalars[k] + scalars[k + 1]) }
        let filter = try makeFilter(words + [scalars[limit - 1]], options: .exact)
        #expect(filter.statistics.alphabetSize == limit)
        let text = scalars.prefix(limit).joined()
        #expect(filter.matchCount(in: text) == words.count + 1)
        #expect(filter.scan(text).last?.word == scalars[limit - 1])
        let tooMany = words + [scalars[limit - 1] + scalars[limit]]
        let error = #expect(throws: FilterDictionaryError.self) { try makeFilter(tooMany, options: .exact) }
        #expect(error?.code == "alphabet_too_large")
    }

    @Test("The compiled automaton stays within 16 bytes per state")
    func memoryPerState() throws {
        var random = TestRandom(state: 7)
        var words = Set<String>()
        while words.count < 5000 {
            let length = 2 + random.below(3)
            words.insert(String((0..<length).map { _ in Character(Unicode.Scalar(UInt32(0x4E00 + random.below(3000) * 5))!) }))
        }
        let filter = try makeFilter(Array(words))
        #expect(filter.statistics.bytesPerState <= 16)
        #expect(filter.statistics.stateCount > 5000)
    }
}
