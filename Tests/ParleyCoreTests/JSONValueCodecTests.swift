import Foundation
import ParleyCore
import Testing

/// The hand-written JSON writer and parser against Foundation's JSONEncoder/JSONDecoder, which they replace on the
/// hot path and must agree with byte for byte (writer) and value for value (parser).
@Suite struct JSONValueCodecTests {
    /// The encoder configuration the server used before the hand-written writer.
    static func foundationEncode(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func foundationDecode(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    static func foundationDecode(_ text: String) throws -> JSONValue {
        try foundationDecode(Array(text.utf8))
    }

    // MARK: Writer

    @Test func writerMatchesJSONEncoderOnEdgeCases() throws {
        var allASCII = ""
        for byte in 0..<0x80 { allASCII.unicodeScalars.append(Unicode.Scalar(UInt8(byte))) }
        let doubles: [Double] = [
            1.0, 0.1, 0.3, 1.5, -2.5e-10, 1e20, 1e21, 1e22, 1e-7, 2e-7, 1e-5, 0.0001, -0.0, 0.0, 1e15, 1e16, 100,
            123456789012345680000.0, 9007199254740992, 9007199254740994, 9007199254740991, -9007199254740991,
            Double(Int.max), Double(Int.min), .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
            .leastNormalMagnitude, .pi, 1.0 / 3.0, 12345.678, 1e300,
        ]
        var values: [JSONValue] = [
            .null, .bool(true), .bool(false), .int(0), .int(-1), .int(.max), .int(.min), .int(9), .int(10), .int(-10),
            .string(""), .string(allASCII), .string("a/b\\c\"d"), .string("\u{7F}\u{80}\u{9F}\u{A0}\u{2028}\u{2029}\u{FEFF}é😀中"),
            .string("e\u{301}"), .array([]), .object([:]), [.null, 1, "x", [[]], ["k": [:]]],
            ["b": 1, "B": 2, "a": 3, "A": 4, "_": 5, "aa": 6, "a1": 7, "a10": 8, "a2": 9, "10": 10, "9": 11, "": 12, " ": 13],
            ["é": 1, "e": 2, "z": 3, "😀": 4, "中": 5, "\u{FF21}": 6, "\u{FFFF}": 7, "\u{10000}": 8, "ß": 9, "ss": 10, "~": 11],
            ["e\u{301}": 1, "f": 2], ["\u{212B}": 1, "\u{C6}": 2, "\u{C5}x": 3], ["a\u{0}": 1, "a": 2, "a\u{1}": 3],
            ["a": ["y": 1, "x": 2], "b": [1, 2]],
        ]
        values += doubles.map { .double($0) }
        for value in values {
            #expect(value.jsonString() == (try Self.foundationEncode(value)), "\(value)")
        }
    }

    @Test func keysAreOrderedByTheirUTF8Bytes() {
        // Not String.<: "e\u{301}" (NFD é) sorts before "f", U+212B (Å sign) after U+00C6 (Æ). Case is not folded.
        let value: JSONValue = ["f": 1, "e\u{301}": 2, "\u{212B}": 3, "\u{C6}": 4, "b": 5, "B": 6, "10": 7, "9": 8]
        #expect(value.jsonString() == "{\"10\":7,\"9\":8,\"B\":6,\"b\":5,\"e\u{301}\":2,\"f\":1,\"\u{C6}\":4,\"\u{212B}\":3}")
    }

    @Test func writerMatchesJSONEncoderOnRandomValues() throws {
        var generator = RandomJSON(seed: 0x5EED_0001)
        for _ in 0..<2000 {
            let value = generator.value(depth: 0)
            let expected = try Self.foundationEncode(value)
            #expect(value.jsonString() == expected, "\(value)")
            #expect(value.jsonBytes() == Array(expected.utf8))
        }
    }

    @Test func writeIntoAppendsToAnExistingBuffer() {
        var bytes = Array("prefix:".utf8)
        JSONValue.object(["k": [1, "two"]]).write(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"prefix:{"k":[1,"two"]}"#)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, .signalingNaN])
    func nonFiniteDoublesAreWrittenAsNullWhereJSONEncoderThrows(_ number: Double) {
        let value: JSONValue = ["x": .double(number), "list": [.double(number), 1]]
        #expect(throws: EncodingError.self) { try Self.foundationEncode(value) }
        #expect(value.jsonString() == #"{"list":[null,1],"x":null}"#)
    }

    // MARK: Parser: agreement with JSONDecoder

    @Test func parserMatchesJSONDecoderOnRandomValues() throws {
        var generator = RandomJSON(seed: 0x5EED_0002)
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys]
        for _ in 0..<2000 {
            let value = generator.value(depth: 0)
            let compact = try Self.foundationEncode(value)
            let expected = try Self.foundationDecode(compact)
            #expect(try JSONValue(parsing: compact) == expected, "\(compact)")
            // Whitespace between every token, and `\/` escapes.
            let spaced = String(decoding: try pretty.encode(value), as: UTF8.self)
            #expect(try JSONValue(parsing: spaced) == (try Self.foundationDecode(spaced)), "\(spaced)")
            // And our own writer's output reads back to the same value.
            #expect(try JSONValue(parsing: value.jsonBytes()) == expected)
        }
    }

    @Test func numbersBecomeIntOrDoubleAsInJSONDecoder() throws {
        let table: [(String, JSONValue)] = [
            ("1", .int(1)), ("1.0", .int(1)), ("1e2", .int(100)), ("1E2", .int(100)), ("1e+2", .int(100)),
            ("-0", .int(0)), ("-0.0", .int(0)), ("0.0", .int(0)), ("0e0", .int(0)), ("100e-2", .int(1)), ("0.1e1", .int(1)),
            ("1.000000000000000000001", .int(1)), ("1e-400", .int(0)), ("-1e-400", .int(0)), ("1.5", .double(1.5)),
            ("2.5e-1", .double(0.25)), ("-1e2", .int(-100)), ("1E-2", .double(0.01)), ("5e-324", .double(.leastNonzeroMagnitude)),
            ("9223372036854775807", .int(.max)), ("-9223372036854775808", .int(.min)),
            ("9223372036854775808", .double(9223372036854775808)), ("-9223372036854775809", .double(-9223372036854775808)),
            ("18446744073709551615", .double(18446744073709551616)), ("12345678901234567890123", .double(1.2345678901234568e22)),
            ("9007199254740993.0", .int(9007199254740993)), ("9007199254740993.5", .int(9007199254740993)),
            ("1e18", .int(1_000_000_000_000_000_000)), ("1e19", .double(1e19)), ("9223372036854775807.0", .double(9223372036854775808)),
            ("-9223372036854775808.0", .double(-9223372036854775808)), ("9007199254740993.0000000000000000000001", .double(9007199254740994)),
            // JSONDecoder's Decimal keeps 38 significant digits here, so the final 1 is dropped and the value is whole.
            ("9007199254740993.00000000000000000000001", .int(9007199254740993)),
        ]
        for (text, expected) in table {
            #expect(try JSONValue(parsing: text) == expected, "\(text)")
            #expect(try Self.foundationDecode(text) == expected, "JSONDecoder changed its mind about \(text)")
        }
    }

    @Test func parserMatchesJSONDecoderOnRandomNumberSpellings() throws {
        var generator = RandomJSON(seed: 0x5EED_0003)
        for _ in 0..<10_000 {
            let text = generator.numberText()
            let expected = try? Self.foundationDecode(text)
            let parsed = try? JSONValue(parsing: text)
            #expect(parsed == expected, "\(text)")
            // Inside an array too (the number then ends at a delimiter instead of the end of input).
            #expect((try? JSONValue(parsing: "[\(text)]")) == (try? Self.foundationDecode("[\(text)]")), "\(text)")
        }
    }

    @Test func numbersBeyondDoubleAreRejectedAsByJSONDecoder() throws {
        for text in ["1e400", "-1e400", "1" + String(repeating: "0", count: 400), "[1e99999999999999999999]"] {
            #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
            #expect(throws: (any Error).self) { try Self.foundationDecode(text) }
        }
        #expect(try JSONValue(parsing: "0e99999999999999999999") == .int(0))
    }

    @Test func stringsDecodeAsInJSONDecoder() throws {
        let accepted = [
            #""\ud83d\ude00""#, #""\uD800\uDC00""#, #""\u00e9\u00E9""#, #""\/\\\"\b\f\n\r\t""#, #""\u0000""#, "\"\u{7F}\u{2028}é😀\"",
            #""a\u0041b""#, "\"\"", #""\ud7ff\ue000\uffff""#,
        ]
        for text in accepted {
            #expect(try JSONValue(parsing: text) == (try Self.foundationDecode(text)), "\(text)")
        }
        // Lone or reversed surrogates: JSONDecoder fails to decode these strings, and so do we.
        for text in [#""\ud800""#, #""\udc00""#, #""\ud83dx""#, #""\ud800\u0041""#, #""\udc00\ud800""#, #""\ud800\""#] {
            #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
            #expect(throws: (any Error).self) { try Self.foundationDecode(text) }
        }
    }

    @Test func invalidUTF8AndRawControlCharactersAreRejectedAsByJSONDecoder() {
        let inputs: [[UInt8]] = [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0x80, 0x22],
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0x61, 0x00, 0x22], [0x22, 0x09, 0x22], [0x22, 0x0A, 0x22],
            [0x22, 0x5C, 0x6E, 0xFF, 0x22],  // invalid byte after an escape
        ]
        for bytes in inputs {
            #expect(throws: JSONParseError.self, "\(bytes)") { try JSONValue(parsing: bytes) }
            #expect(throws: (any Error).self, "\(bytes)") { try Self.foundationDecode(bytes) }
        }
    }

    @Test func aLeadingByteOrderMarkIsSkippedAsByJSONDecoder() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#"{"a":[1]}"#.utf8)
        #expect(try JSONValue(parsing: bytes) == ["a": [1]])
        #expect(try Self.foundationDecode(bytes) == ["a": [1]])
    }

    @Test func duplicateKeysKeepTheFirstValueAsInJSONDecoder() throws {
        let inputs = [
            #"{"a":1,"a":2}"#, #"{"a":1,"b":2,"a":3}"#, #"{"a":{"x":1},"a":{"y":2}}"#, #"{"\u0061":1,"a":2}"#,
            "{\"\u{E9}\":1,\"e\\u0301\":2}",
        ]
        for text in inputs {
            #expect(try JSONValue(parsing: text) == (try Self.foundationDecode(text)), "\(text)")
        }
        #expect(try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#) == ["a": 1, "b": 2])
        // The first spelling of canonically equivalent keys is the one kept (and written back).
        #expect(try JSONValue(parsing: "{\"e\\u0301\":1,\"\u{E9}\":2}").jsonString() == "{\"e\u{301}\":1}")
    }

    // MARK: Parser: rejection

    @Test(arguments: [
        "", " ", "[", "]", "{", "}", "[1", "{\"a\":1", "[1 2]", "{\"a\" 1}", "{a:1}", "{'a':1}", "'a'", "{1:2}", "{,}", "[,1]",
        "{\"a\"}", "{\"a\":}", "[1,,2]", "//c\n1", "/*c*/1", "# c\n1", "1 2", "[1] x", "{} {}", "tru", "truex", "nul", "nulll",
        "True", "NULL", "NaN", "Infinity", "-Infinity", "01", "-01", "00", "-", "+1", ".5", "1.", "1.e2", "1e", "1e+", "--1",
        "0x10", "1_000", "\"abc", "\"\\x\"", "\"\\a\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "[1\u{0B}]", "[1\u{0C}]",
        "\u{A0}1", "\u{FEFF}\u{FEFF}1", "[\"a\"\"b\"]", "{\"a\":1 \"b\":2}", "\"a\u{0}b\"", "\"a\tb\"",
    ])
    func malformedInputIsRejected(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
        // JSONDecoder rejects all of these too (its trailing-comma leniency is covered separately).
        #expect(throws: (any Error).self) { try Self.foundationDecode(text) }
    }

    @Test(arguments: ["[1,]", "{\"a\":1,}", "[\"a\",]", "[[],]", "{\"a\":{},}"])
    func trailingCommasAreRejectedThoughJSONDecoderAcceptsThem(_ text: String) throws {
        // A deliberate difference: RFC 8259 has no trailing commas; JSONDecoder tolerates them.
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
        _ = try Self.foundationDecode(text)
    }

    @Test func whitespaceIsAllowedAroundEveryToken() throws {
        let text = " \t\r\n{ \"a\" : [ 1 , 2.5 , true , null , \"x\" , { } , [ ] ] , \"b\"\n:\n-3 }\n\t "
        #expect(try JSONValue(parsing: text) == ["a": [1, .double(2.5), true, .null, "x", [:], []], "b": -3])
        #expect(try JSONValue(parsing: text) == (try Self.foundationDecode(text)))
    }

    @Test func nestingIsLimitedTo512LikeJSONDecoder() throws {
        func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }
        func nestedObjects(_ depth: Int) -> String { String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth) }
        _ = try JSONValue(parsing: nested(512))
        _ = try JSONValue(parsing: nestedObjects(512))
        _ = try Self.foundationDecode(nested(512))
        // The offset is that of the 513th opening bracket or brace.
        for (text, offset) in [(nested(513), 512), (nestedObjects(513), 512 * 5)] {
            #expect(throws: JSONParseError(.tooDeep, at: offset)) { try JSONValue(parsing: text) }
            #expect(throws: (any Error).self) { try Self.foundationDecode(text) }
        }
        // Hostile input: a megabyte of brackets fails fast instead of exhausting the stack.
        #expect(throws: JSONParseError(.tooDeep, at: 512)) { try JSONValue(parsing: String(repeating: "[", count: 1_000_000)) }
    }

    @Test func deepNestingIsSafeOnASwiftConcurrencyThread() async throws {
        // Cooperative-pool threads have smaller stacks than the main thread; the server parses frames on them.
        let text = String(repeating: "[{\"k\":", count: 256) + "0" + String(repeating: "}]", count: 256)
        let value = try await Task.detached { try JSONValue(parsing: text) }.value
        #expect(value.jsonString() == text)
    }

    @Test func errorsCarryTheByteOffset() {
        let cases: [(String, JSONParseError)] = [
            ("", JSONParseError(.unexpectedEnd, at: 0)),
            ("[1,]", JSONParseError(.unexpectedByte, at: 3)),
            ("{\"a\":1,}", JSONParseError(.unexpectedByte, at: 7)),
            ("[1] x", JSONParseError(.trailingData, at: 4)),
            ("  01", JSONParseError(.invalidNumber, at: 3)),
            ("[1.]", JSONParseError(.invalidNumber, at: 3)),
            ("[1e400]", JSONParseError(.numberOutOfRange, at: 1)),
            ("{\"é\":\"a\u{1}\"}", JSONParseError(.controlCharacterInString, at: 8)),
            (#"["\q"]"#, JSONParseError(.invalidEscape, at: 2)),
            (#"["ok","\udc00"]"#, JSONParseError(.loneSurrogate, at: 7)),
            ("[tru]", JSONParseError(.unexpectedByte, at: 4)),
            ("[\"abc", JSONParseError(.unexpectedEnd, at: 5)),
        ]
        for (text, error) in cases {
            #expect(throws: error, "\(text)") { try JSONValue(parsing: text) }
        }
        #expect(throws: JSONParseError(.invalidUTF8, at: 1)) { try JSONValue(parsing: [0x5B, 0x22, 0xFF, 0x22, 0x5D]) }
        #expect(JSONParseError(.trailingData, at: 4).description == "JSON parse error at byte 4: unexpected data after the JSON value")
    }

    @Test func parsesAnyCollectionOfBytes() throws {
        let text = #"{"a":[1,"b",{"c":null}]}"#
        let expected: JSONValue = ["a": [1, "b", ["c": .null]]]
        #expect(try JSONValue(parsing: Data(text.utf8)) == expected)
        #expect(try JSONValue(parsing: Array(("xx" + text).utf8).dropFirst(2)) == expected)
        #expect(try JSONValue(parsing: text.utf8) == expected)
        // Not contiguous: copied first.
        #expect(try JSONValue(parsing: Array(text.utf8).lazy.map { $0 }) == expected)
    }
}

/// A deterministic generator of JSON values and number spellings (SplitMix64), so a failure reproduces.
private struct RandomJSON {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func value(depth: Int) -> JSONValue {
        switch below(depth >= 5 ? 6 : 9) {
        case 0: return .null
        case 1: return .bool(below(2) == 0)
        case 2: return .int(integer())
        case 3: return .double(double())
        case 4, 5: return .string(string(maxScalars: 24))
        case 6, 7:
            var members: [String: JSONValue] = [:]
            for _ in 0..<below(8) { members[string(maxScalars: 8)] = value(depth: depth + 1) }
            return .object(members)
        default:
            return .array((0..<below(8)).map { _ in value(depth: depth + 1) })
        }
    }

    mutating func integer() -> Int {
        switch below(5) {
        case 0: return below(21) - 10
        case 1: return Int(truncatingIfNeeded: next())
        case 2: return [Int.max, .min, .max - 1, .min + 1, 1 << 53, -(1 << 53), (1 << 53) + 1][below(7)]
        default: return Int(truncatingIfNeeded: next() >> UInt64(below(64)))  * (below(2) == 0 ? 1 : -1)
        }
    }

    mutating func double() -> Double {
        switch below(7) {
        case 0:
            // Any finite bit pattern: subnormals, huge and tiny exponents.
            while true {
                let candidate = Double(bitPattern: next())
                if candidate.isFinite { return candidate }
            }
        case 1: return Double(Int(truncatingIfNeeded: next() >> 20)) / [1, 10, 100, 1000, 1e6, 1e9][below(6)]
        case 2: return Double(integer())  // whole numbers, including beyond 2^53
        case 3: return [0.0, -0.0, 0.1, 0.5, 1e-7, 1e20, 1e21, 1e22, 1e-5, .greatestFiniteMagnitude, .leastNonzeroMagnitude][below(11)]
        case 4: return Double(below(1_000_000)) * [1e10, 1e15, 1e16, 1e-10][below(4)]
        case 5: return (Double(next() >> 11) / Double(1 << 53)) * [1, 100, 1e6, 1e-3][below(4)]
        default: return Double(below(2000) - 1000) / 8
        }
    }

    mutating func scalar() -> Unicode.Scalar {
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x20...0x7E, 0x61...0x7A, 0x41...0x5A, 0x00...0x1F, 0x22...0x22, 0x5C...0x5C, 0x2F...0x2F, 0x7F...0xFF,
            0x100...0x7FF, 0x300...0x36F, 0x800...0xD7FF, 0xE000...0xFFFF, 0x2028...0x2029, 0x1F600...0x1F64F, 0x10000...0x10FFFF,
        ]
        let range = ranges[below(ranges.count)]
        let value = range.lowerBound + UInt32(below(Int(range.upperBound - range.lowerBound) + 1))
        return Unicode.Scalar(value)!  // no range includes surrogates
    }

    mutating func string(maxScalars: Int) -> String {
        var text = ""
        for _ in 0..<below(maxScalars + 1) { text.unicodeScalars.append(scalar()) }
        return text
    }

    private mutating func digits(_ count: Int, leadingNonZero: Bool) -> String {
        var text = ""
        for index in 0..<count {
            let digit = leadingNonZero && index == 0 ? 1 + below(9) : below(10)
            text.append(Character(Unicode.Scalar(UInt8(48 + digit))))
        }
        return text
    }

    /// A valid JSON number spelling, skewed towards the spots where int-vs-double decisions are made.
    mutating func numberText() -> String {
        var text = below(2) == 0 ? "-" : ""
        switch below(4) {
        case 0:
            // Around 2^53 ... 2^64, with a fraction or an exponent: JSONDecoder's Decimal slow path.
            let integerDigits = 16 + below(5)
            text += digits(integerDigits, leadingNonZero: true)
            if below(3) > 0 { text += "." + (below(2) == 0 ? String(repeating: "0", count: 1 + below(25)) : digits(1 + below(25), leadingNonZero: false)) }
            if below(3) == 0 { text += "e" + ["", "+", "-"][below(3)] + String(below(3)) }
            return text
        case 1:
            // Leading-zero fractions scaled back up by an exponent.
            text += "0." + String(repeating: "0", count: below(30)) + digits(1 + below(22), leadingNonZero: true)
            text += "e" + String(below(45))
            return text
        default:
            if below(4) == 0 { text += "0" } else { text += digits(1 + below(24), leadingNonZero: true) }
            if below(2) == 0 { text += "." + digits(1 + below(20), leadingNonZero: false) }
            if below(2) == 0 {
                text += ["e", "E"][below(2)] + ["", "+", "-"][below(3)]
                text += below(8) == 0 ? digits(1 + below(4), leadingNonZero: false) : String(below(40))
            }
            return text
        }
    }
}
