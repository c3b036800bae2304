/// Why `JSONValue(parsing:)` refused its input, and at which byte.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "unexpected byte"
        case invalidNumber = "malformed number"
        /// A number whose value does not fit a `Double` (such as `1e400`); `JSONDecoder` rejects these too.
        case numberOutOfRange = "number out of range"
        case controlCharacterInString = "unescaped control character in string"
        case invalidEscape = "invalid escape sequence"
        /// A `\uD800`–`\uDFFF` escape that is not part of a high-low surrogate pair.
        case loneSurrogate = "unpaired UTF-16 surrogate escape"
        case invalidUTF8 = "invalid UTF-8 in string"
        case tooDeep = "nesting deeper than 512 arrays/objects"
        case trailingData = "unexpected data after the JSON value"
    }

    public var reason: Reason
    /// Offset, in bytes from the start of the input (UTF-8), of the byte where the problem was detected. For
    /// strings with invalid UTF-8 it is the offset of the string's opening quote.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "JSON parse error at byte \(offset): \(reason.rawValue)" }
}

/// A strict RFC 8259 parser that yields the same `JSONValue` as `JSONDecoder().decode(JSONValue.self, from:)`.
///
/// What it matches in `JSONDecoder` (swift-foundation, checked by the tests):
/// - Numbers: a plain integer that fits `Int` is `.int`. Any other number is read as the correctly rounded `Double`
///   `d`; it is `.int` if `d` is a whole number below 2^53 in magnitude (so `1.0`, `1e2`, `-0`, `-0.0`, `100e-2`,
///   `1e-400` and even `1.0000000000000000001` are ints), and `.double(d)` otherwise. From 2^53 up, JSONDecoder reads
///   the text again as a `Decimal` and keeps the integer part, and this parser reproduces that
///   (`9007199254740993.0` → `.int(9007199254740993)`). Integers beyond `Int` become `.double`. A number that
///   overflows `Double` (`1e400`) is an error.
/// - Strings: raw bytes below 0x20 are rejected, `\u` escapes must form valid scalars (a lone or reversed surrogate
///   is rejected), invalid UTF-8 is rejected; DEL and U+2028/U+2029 are allowed raw.
/// - Duplicate keys: the first occurrence wins (JSONDecoder keeps the first value; keys are compared as Swift
///   `String`s, so canonically equivalent spellings such as `"é"` and `"e\u0301"` are duplicates).
/// - Depth: up to 512 nested arrays/objects; more is an error (JSONDecoder has the same limit).
/// - Whitespace is space, tab, LF, CR only; one leading UTF-8 byte order mark is skipped; trailing non-whitespace
///   is an error. Any value may be the top level.
///
/// Deliberate differences (where JSONDecoder is more lenient than RFC 8259 or crashes):
/// - JSONDecoder accepts a trailing comma in arrays and objects (`[1,]`, `{"a":1,}`); this parser rejects them.
/// - JSONDecoder only decodes the *kept* value of a duplicate key, so it accepts a dropped duplicate that holds a
///   bad string or an out-of-range number; this parser validates every value.
/// - JSONDecoder also accepts UTF-16/UTF-32 input; this parser reads UTF-8 only.
/// - For absurd spellings of whole numbers of 2^53 and more whose `Decimal` exponent leaves its range (say 200 zeros
///   after the point, then a matching exponent), Foundation is reported to trap (not exercised here); this parser
///   applies the same rule without the range check and never traps.
extension JSONValue {
    /// The maximum number of nested arrays and objects, as in JSONDecoder.
    public static let maximumParsingDepth = 512

    /// Parses UTF-8 JSON text (`[UInt8]`, `Data`, `ByteBuffer.readableBytesView`, …).
    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        let parsed: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) in try JSONParser.parse(buffer) }
        }
        if let parsed {
            self = try parsed.get()
        } else {
            // Non-contiguous collections are copied once.
            let copy = Array(bytes)
            self = try copy.withUnsafeBufferPointer { buffer throws(JSONParseError) in try JSONParser.parse(buffer) }
        }
    }

    /// Parses JSON text.
    public init(parsing text: String) throws(JSONParseError) {
        var text = text
        // `withUTF8` is free for native strings (and makes bridged ones native first).
        // (`withUTF8` is `rethrows`, which would erase the error type, hence the Result.)
        let parsed = text.withUTF8 { buffer in Result { () throws(JSONParseError) in try JSONParser.parse(buffer) } }
        self = try parsed.get()
    }
}

/// Recursive-descent parser over a contiguous UTF-8 buffer. Recursion is bounded by `maximumParsingDepth`.
struct JSONParser {
    private let input: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0
    /// Reused for strings containing escapes, to avoid one allocation per such string.
    private var scratch: [UInt8] = []
    /// Members of the objects being parsed, innermost last. Each object builds its dictionary at its closing brace,
    /// with the exact capacity, instead of growing (and rehashing) it member by member.
    private var pendingMembers: [(key: String, value: JSONValue)] = []

    private init(_ input: UnsafeBufferPointer<UInt8>) {
        self.input = input
    }

    static func parse(_ input: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(input)
        // JSONDecoder skips a UTF-8 byte order mark.
        if input.count >= 3, input[0] == 0xEF, input[1] == 0xBB, input[2] == 0xBF { parser.position = 3 }
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.position < input.count { throw JSONParseError(.trailingData, at: parser.position) }
        return value
    }

    // MARK: Scanning helpers

    @inline(__always)
    private mutating func skipWhitespace() {
        while position < input.count {
            switch input[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    @inline(__always)
    private mutating func peek() throws(JSONParseError) -> UInt8 {
        skipWhitespace()
        guard position < input.count else { throw JSONParseError(.unexpectedEnd, at: position) }
        return input[position]
    }

    @inline(__always)
    private mutating func expectLiteral(_ literal: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        for offset in 0..<count {
            guard position + offset < input.count else { throw JSONParseError(.unexpectedEnd, at: position + offset) }
            guard input[position + offset] == literal.utf8Start[offset] else {
                throw JSONParseError(.unexpectedByte, at: position + offset)
            }
        }
        position += count
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw JSONParseError(.unexpectedByte, at: position)
        }
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > JSONValue.maximumParsingDepth { throw JSONParseError(.tooDeep, at: position) }
        position += 1  // the opening bracket or brace
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        if try peek() == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            // A `]` here (after a comma) is a trailing comma, which RFC 8259 forbids; parseValue rejects it.
            elements.append(try parseValue())
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                depth -= 1
                return .array(elements)
            default: throw JSONParseError(.unexpectedByte, at: position)
            }
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        if try peek() == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object([:])
        }
        let firstMember = pendingMembers.count
        while true {
            // Keys must be strings; this also rejects a trailing comma before `}`.
            guard try peek() == UInt8(ascii: "\"") else { throw JSONParseError(.unexpectedByte, at: position) }
            let key = try parseString()
            guard try peek() == UInt8(ascii: ":") else { throw JSONParseError(.unexpectedByte, at: position) }
            position += 1
            pendingMembers.append((key, try parseValue()))
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                depth -= 1
                var members = [String: JSONValue](minimumCapacity: pendingMembers.count - firstMember)
                for index in firstMember..<pendingMembers.count {
                    let member = pendingMembers[index]
                    // First occurrence wins, as in JSONDecoder. One hash lookup in the common (no duplicate) case;
                    // the stored key stays the first spelling, since `updateValue` does not replace an existing key.
                    if let earlier = members.updateValue(member.value, forKey: member.key) { members[member.key] = earlier }
                }
                pendingMembers.removeSubrange(firstMember...)
                return .object(members)
            default: throw JSONParseError(.unexpectedByte, at: position)
            }
        }
    }

    // MARK: Strings

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws(JSONParseError) -> String {
        let quote = position
        position += 1
        let start = position
        var nonASCII: UInt8 = 0
        // Fast path: scan to the closing quote; most strings have no escapes.
        while position < input.count {
            let byte = input[position]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: input[start..<position])
                position += 1
                return try Self.makeString(run, needsValidation: nonASCII & 0x80 != 0, quote: quote)
            }
            if byte == UInt8(ascii: "\\") { return try parseEscapedString(from: start, quote: quote) }
            if byte < 0x20 { throw JSONParseError(.controlCharacterInString, at: position) }
            nonASCII |= byte
            position += 1
        }
        throw JSONParseError(.unexpectedEnd, at: position)
    }

    @inline(__always)
    private static func makeString(_ utf8: UnsafeBufferPointer<UInt8>, needsValidation: Bool, quote: Int) throws(JSONParseError) -> String {
        // ASCII needs no validation; `String(decoding:)` would silently repair bad UTF-8, so others are validated.
        guard needsValidation else { return String(decoding: utf8, as: UTF8.self) }
        if #available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *) {
            guard let text = String(validating: utf8, as: UTF8.self) else { throw JSONParseError(.invalidUTF8, at: quote) }
            return text
        } else {
            // Older Apple runtimes: decode with repair, and the input was valid iff nothing was repaired.
            let text = String(decoding: utf8, as: UTF8.self)
            guard text.utf8.elementsEqual(utf8) else { throw JSONParseError(.invalidUTF8, at: quote) }
            return text
        }
    }

    /// The slow path: the string has at least one escape. Bytes are gathered in `scratch`.
    private mutating func parseEscapedString(from start: Int, quote: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<position]))
        while position < input.count {
            let byte = input[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                let result: Result<String, JSONParseError> = scratch.withUnsafeBufferPointer { utf8 in
                    Result { () throws(JSONParseError) in try Self.makeString(utf8, needsValidation: true, quote: quote) }
                }
                return try result.get()
            case UInt8(ascii: "\\"):
                try parseEscape()
            case 0..<0x20:
                throw JSONParseError(.controlCharacterInString, at: position)
            default:
                scratch.append(byte)
                position += 1
            }
        }
        throw JSONParseError(.unexpectedEnd, at: position)
    }

    /// Parses one escape at `position` (a backslash) and appends its UTF-8 to `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let escapeStart = position
        position += 1
        guard position < input.count else { throw JSONParseError(.unexpectedEnd, at: position) }
        let letter = input[position]
        position += 1
        let simple: UInt8
        switch letter {
        case UInt8(ascii: "\""): simple = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): simple = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): simple = UInt8(ascii: "/")
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalarValue = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate must be followed by an escaped low surrogate; JSONDecoder rejects anything else.
                guard position + 1 < input.count, input[position] == UInt8(ascii: "\\"), input[position + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(.loneSurrogate, at: escapeStart)
                }
                position += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw JSONParseError(.loneSurrogate, at: escapeStart) }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw JSONParseError(.loneSurrogate, at: escapeStart)
            }
            // Surrogates are excluded above, so this always succeeds.
            guard let scalar = Unicode.Scalar(scalarValue) else { throw JSONParseError(.loneSurrogate, at: escapeStart) }
            scratch.append(contentsOf: UTF8.encode(scalar)!)
            return
        default:
            throw JSONParseError(.invalidEscape, at: escapeStart)
        }
        scratch.append(simple)
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        guard position + 4 <= input.count else { throw JSONParseError(.unexpectedEnd, at: input.count) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = input[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: throw JSONParseError(.invalidEscape, at: position)
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    // MARK: Numbers

    /// Parses `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and decides int vs double as JSONDecoder does.
    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = position
        let negative = input[position] == UInt8(ascii: "-")
        if negative { position += 1 }

        // Integer part. Up to 19 significant digits accumulate exactly into a UInt64 (10^19 < 2^64).
        var significand: UInt64 = 0
        var significantDigits = 0
        guard position < input.count else { throw JSONParseError(.unexpectedEnd, at: position) }
        if input[position] == UInt8(ascii: "0") {
            position += 1
            // RFC 8259: no leading zeros ("01", "-00").
            if position < input.count, isDigit(input[position]) { throw JSONParseError(.invalidNumber, at: position) }
        } else if isDigit(input[position]) {
            while position < input.count, isDigit(input[position]) {
                if significantDigits < 19 {
                    significand = significand &* 10 &+ UInt64(input[position] &- UInt8(ascii: "0"))
                }
                significantDigits += 1
                position += 1
            }
        } else {
            throw JSONParseError(.invalidNumber, at: position)
        }

        var isPlainInteger = true
        var decimalExponent = 0  // value = significand * 10^decimalExponent, while the digits fit
        if significantDigits > 19 { decimalExponent = significantDigits - 19 }

        if position < input.count, input[position] == UInt8(ascii: ".") {
            isPlainInteger = false
            position += 1
            guard position < input.count, isDigit(input[position]) else {
                throw JSONParseError(.invalidNumber, at: position)
            }
            while position < input.count, isDigit(input[position]) {
                let digit = UInt64(input[position] &- UInt8(ascii: "0"))
                if significantDigits == 0 && digit == 0 {
                    // Leading zeros of "0.000123" are not significant.
                    decimalExponent -= 1
                } else if significantDigits < 19 {
                    significand = significand &* 10 &+ digit
                    significantDigits += 1
                    decimalExponent -= 1
                } else {
                    significantDigits += 1  // dropped; the slow path re-reads the text
                }
                position += 1
            }
        }

        if position < input.count, input[position] | 0x20 == UInt8(ascii: "e") {
            isPlainInteger = false
            position += 1
            var exponentNegative = false
            if position < input.count, input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-") {
                exponentNegative = input[position] == UInt8(ascii: "-")
                position += 1
            }
            guard position < input.count, isDigit(input[position]) else {
                throw JSONParseError(.invalidNumber, at: position)
            }
            var exponent = 0
            while position < input.count, isDigit(input[position]) {
                // Saturate: anything this large is out of range (or zero) either way, and strtod decides.
                if exponent < 100_000 { exponent = exponent * 10 + Int(input[position] &- UInt8(ascii: "0")) }
                position += 1
            }
            decimalExponent += exponentNegative ? -exponent : exponent
        }
        let text = UnsafeBufferPointer(rebasing: input[start..<position])

        // 1. A plain integer that fits Int: JSONDecoder's integer fast path.
        if isPlainInteger && significantDigits <= 19 {
            if !negative, significand <= UInt64(Int.max) { return .int(Int(significand)) }
            if negative, significand <= UInt64(Int.max) + 1 { return .int(Int(truncatingIfNeeded: 0 &- significand)) }
        }

        // 2. Otherwise JSONDecoder reads a Double (strtod) and keeps it as an Int when it is whole and exact.
        let double: Double
        if significand == 0 {
            double = negative ? -0.0 : 0.0
        } else if significantDigits <= 19, significand <= 1 << 53, (-22...22).contains(decimalExponent) {
            // Clinger's fast path: both operands are exact doubles, so one IEEE operation is correctly rounded,
            // i.e. the same result as strtod.
            let magnitude = Double(significand)
            let scaled = decimalExponent < 0 ? magnitude / Self.powersOfTen[-decimalExponent] : magnitude * Self.powersOfTen[decimalExponent]
            double = negative ? -scaled : scaled
        } else {
            double = Self.slowDouble(text)
        }
        guard double.isFinite else { throw JSONParseError(.numberOutOfRange, at: start) }
        if let whole = Int(exactly: double) {
            if double.magnitude < 9_007_199_254_740_992 { return .int(whole) }  // 2^53
            if let exact = Self.decimalIntegerPart(text) { return .int(exact) }
        }
        return .double(double)
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Correctly rounded conversion of a validated JSON number. Swift's `Double(_: String)` is strtod in the C
    /// locale (Foundation uses the same routine), so it rounds identically and ignores the process locale.
    /// Returns infinity for numbers beyond `Double`.
    private static func slowDouble(_ text: UnsafeBufferPointer<UInt8>) -> Double {
        Double(String(decoding: text, as: UTF8.self)) ?? .infinity
    }

    /// What JSONDecoder's integer slow path yields for a number whose Double value is whole and at least 2^53 in
    /// magnitude: it re-reads the text as a Foundation `Decimal` (at most 38 or 39 significant digits, whatever fits
    /// 128 bits) and converts that to `Int` through a `UInt64` mantissa (trailing zeros removed), dropping any
    /// fraction. Returns nil where JSONDecoder fails there (so the number becomes a `.double`).
    static func decimalIntegerPart(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        let negative = text[0] == UInt8(ascii: "-")
        if negative { index += 1 }
        // All mantissa digits, without the point, and how many came before the point.
        var digits: [UInt8] = []
        var integerDigits = 0
        var seenPoint = false
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                seenPoint = true
            } else if byte | 0x20 == UInt8(ascii: "e") {
                break
            } else {
                digits.append(byte &- UInt8(ascii: "0"))
                if !seenPoint { integerDigits += 1 }
            }
            index += 1
        }
        var exponent = 0
        if index < text.count {
            index += 1
            var exponentNegative = false
            if text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
                exponentNegative = text[index] == UInt8(ascii: "-")
                index += 1
            }
            while index < text.count {
                if exponent < 100_000 { exponent = exponent * 10 + Int(text[index] &- UInt8(ascii: "0")) }
                index += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        // Significant digits: drop leading zeros (the point moves left with them).
        let leadingZeros = digits.prefix { $0 == 0 }.count
        var significant = Array(digits[leadingZeros...])
        // Decimal keeps as many digits as fit 128 bits: 39 if the first 39 are at most 2^128 - 1, else 38.
        if significant.count >= 39 {
            let limit: [UInt8] = Array("340282366920938463463374607431768211455".utf8).map { $0 - UInt8(ascii: "0") }
            significant = Array(significant[0..<(significant[0..<39].lexicographicallyPrecedes(limit) || significant[0..<39].elementsEqual(limit) ? 39 : 38)])
        }
        // The mantissa without trailing zeros must fit a UInt64 (JSONDecoder's `Int.init?(_: Decimal)`).
        var mantissaDigits = significant.count
        while mantissaDigits > 0, significant[mantissaDigits - 1] == 0 { mantissaDigits -= 1 }
        var mantissa: UInt64 = 0
        for digit in significant[0..<mantissaDigits] {
            let (shifted, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { return nil }
            mantissa = sum
        }
        // Number of digits of `significant` before the decimal point; the value is their integer part.
        let pointPosition = integerDigits - leadingZeros + exponent
        var magnitude: UInt64
        if pointPosition >= mantissaDigits {
            magnitude = mantissa
            for _ in 0..<(pointPosition - mantissaDigits) {
                let (product, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                magnitude = product
            }
        } else {
            magnitude = 0
            for digit in significant[0..<max(pointPosition, 0)] { magnitude = magnitude * 10 + UInt64(digit) }
        }
        // `Int(exactly:)` on the magnitude, then negated: so -2^63 is out of range here, as in JSONDecoder.
        guard magnitude <= UInt64(Int.max) else { return nil }
        return negative ? -Int(magnitude) : Int(magnitude)
    }
}
