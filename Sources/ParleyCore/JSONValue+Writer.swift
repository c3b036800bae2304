/// A hand-written JSON writer for `JSONValue`.
///
/// It produces exactly the bytes that Foundation's `JSONEncoder` produces with
/// `outputFormatting = [.sortedKeys, .withoutEscapingSlashes]` (swift-foundation, as shipped with the Swift 6
/// toolchains on Linux and macOS), because stored payloads and frames are compared byte for byte. The rules it
/// reproduces, each checked against `JSONEncoder` by the tests:
///
/// - Object keys are sorted by the raw UTF-8 bytes of the key (not `String.<`, which compares canonically
///   equivalent forms as equal and so orders decomposed keys differently). No numeric or case folding.
/// - Strings escape `"` and `\`, `\b \t \n \f \r` by name, every other byte below 0x20 as `\u00xx` with lowercase
///   hex; everything else (including `/`, DEL, U+2028/U+2029 and all non-ASCII) is written as raw UTF-8.
/// - `Int` is written in decimal (`Int.min` included).
/// - A `Double` is written as its Swift `description` without a trailing `.0`: `1.0` → `1`, `-0.0` → `-0`,
///   `0.1` → `0.1`, `1e20` → `1e+20`, `1e-7` → `1e-07`.
///
/// Deliberate differences, for values `JSONEncoder` refuses to encode at all (it throws):
/// - A non-finite `Double` (NaN, ±infinity) is written as `null`, so that writing never fails.
/// - Nesting: `JSONEncoder` throws for values nested 512 or more containers deep; this writer writes any depth
///   (a value that deep can only be built in code: the parser stops at 512).
extension JSONValue {
    /// The JSON text of this value, as `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes it.
    public func jsonString() -> String {
        String(decoding: jsonBytes(), as: UTF8.self)
    }

    /// The UTF-8 bytes of `jsonString()`, without going through `String`.
    public func jsonBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        // Most payloads are small; one modest up-front allocation avoids several regrowths.
        bytes.reserveCapacity(512)
        write(into: &bytes)
        return bytes
    }

    /// Appends the JSON text of this value to `bytes` (for building a larger buffer without intermediate copies).
    public func write(into bytes: inout [UInt8]) {
        JSONWriter.write(self, into: &bytes)
    }
}

/// Pieces for writers that emit a fixed shape directly (frames and payloads written once per message, where building
/// a `JSONValue` dictionary cost more than the writing): literal text, and values exactly as `JSONValue` writes them.
/// Such a writer must put keys in this writer's order (sorted by UTF-8 bytes) and be tested against it byte for byte.
extension [UInt8] {
    /// Appends a literal's UTF-8 bytes: punctuation and keys, such as `#","seq":"#`.
    @inline(__always)
    public mutating func appendLiteral(_ literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a JSON string, or `null` for nil.
    public mutating func appendJSON(_ text: String?) {
        if let text { JSONWriter.writeString(text, into: &self) } else { appendLiteral("null") }
    }

    /// Appends a JSON integer.
    public mutating func appendJSON(_ number: Int) {
        JSONWriter.writeInt(number, into: &self)
    }

    /// Appends a JSON array of strings.
    public mutating func appendJSON(_ strings: [String]) {
        append(UInt8(ascii: "["))
        for (index, text) in strings.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            JSONWriter.writeString(text, into: &self)
        }
        append(UInt8(ascii: "]"))
    }
}

/// The writer's routines. A namespace rather than methods on `JSONValue`, to keep the public surface to the three
/// entry points above.
enum JSONWriter {
    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null:
            out.appendLiteral("null")
        case .bool(let flag):
            out.appendLiteral(flag ? "true" : "false")
        case .int(let number):
            writeInt(number, into: &out)
        case .double(let number):
            writeDouble(number, into: &out)
        case .string(let text):
            writeString(text, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            writeObject(members, into: &out)
        }
    }

    private static func writeObject(_ members: [String: JSONValue], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        switch members.count {
        case 0:
            break
        case 1:
            // No sorting needed: skip building the array.
            let member = members.first!
            writeString(member.key, into: &out)
            out.append(UInt8(ascii: ":"))
            write(member.value, into: &out)
        default:
            // JSONEncoder orders keys by their UTF-8 bytes; see `utf8Precedes`.
            let sorted = members.sorted { utf8Precedes($0.key, $1.key) }
            var first = true
            for member in sorted {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Byte-wise lexicographic order of the UTF-8 forms, which is the order `JSONEncoder` uses for `.sortedKeys`
    /// (verified: `"e\u{301}"` sorts before `"f"`, `"Å"` (U+212B) after `"Æ"`, `"Z"` before `"a"`, `"10"` before `"9"`).
    static func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
        // Native Swift strings are contiguous UTF-8, so this is a memcmp-like loop with no copying; bridged or
        // otherwise non-contiguous strings take the generic path.
        let fast = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right -> Bool in
                let count = min(left.count, right.count)
                var index = 0
                while index < count {
                    let a = left[index], b = right[index]
                    if a != b { return a < b }
                    index += 1
                }
                return left.count < right.count
            }
        }
        if let result = fast ?? nil { return result }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    static func writeInt(_ number: Int, into out: inout [UInt8]) {
        // Digits are produced backwards into a small stack tuple, then copied once; `magnitude` makes Int.min safe.
        var magnitude = number.magnitude
        if magnitude < 10 {
            if number < 0 { out.append(UInt8(ascii: "-")) }
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            while magnitude > 0 {
                let (quotient, remainder) = magnitude.quotientAndRemainder(dividingBy: 10)
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remainder)
                magnitude = quotient
            }
            if number < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
    }

    static func writeDouble(_ number: Double, into out: inout [UInt8]) {
        guard number.isFinite else {
            // JSONEncoder throws here (EncodingError.invalidValue); we write null so writing cannot fail.
            out.appendLiteral("null")
            return
        }
        // Whole numbers below 2^53 are what Swift's `description` prints as "<digits>.0", which JSONEncoder trims
        // to "<digits>"; printing them as integers skips building a String. (-0.0 is excluded: it prints as "-0".)
        if number == number.rounded(.towardZero), number.magnitude < 9_007_199_254_740_992, number != 0 || number.sign == .plus {
            writeInt(Int(number), into: &out)
            return
        }
        // Everything else: exactly what JSONEncoder does. `description` is the shortest round-tripping form and
        // fits a small (non-allocating) String.
        var text = number.description
        text.withUTF8 { utf8 in
            var count = utf8.count
            // "-0.0" (and any other "…​.0") loses its ".0", as in JSONEncoder.
            if count >= 2, utf8[count - 2] == UInt8(ascii: "."), utf8[count - 1] == UInt8(ascii: "0") { count -= 2 }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[0..<count]))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let wroteContiguously = text.utf8.withContiguousStorageIfAvailable { writeEscaped($0, into: &out) } != nil
        if !wroteContiguously {
            // Bridged / non-contiguous strings: copy once, then take the same path.
            let bytes = Array(text.utf8)
            bytes.withUnsafeBufferPointer { writeEscaped($0, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Copies `utf8` to `out`, escaping as JSONEncoder does. Runs of bytes that need no escape (the usual case) are
    /// copied with one `append(contentsOf:)` each.
    private static func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var runStart = 0
        var index = 0
        let count = utf8.count
        while index < count {
            let byte = utf8[index]
            // Only `"`, `\` and bytes below 0x20 are escaped; non-ASCII UTF-8 (>= 0x80) is copied as is.
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            if runStart < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
            out.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            default:
                // Other control characters: \u00xx with lowercase hex digits, as JSONEncoder writes them.
                let hex: StaticString = "0123456789abcdef"
                out.append(UInt8(ascii: "u"))
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "0"))
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0xF)])
            }
            index += 1
            runStart = index
        }
        if runStart < count { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<count])) }
    }
}
