/// Reads the few fields parley-bench needs out of a server frame without a JSON parser.
///
/// Parley encodes frames with sorted keys and no spaces (`FrameCodec`), so the top-level `type` is the last
/// `"type":"` in the frame (only `user_id` and `user_seq` sort after it, and neither holds that text), and the
/// top-level `user_seq` is the last `"user_seq":`. Nested objects come before both. Fields are looked up by
/// their exact quoted key; the values parley-bench reads are integers or strings without escapes.
struct FrameScanner {
    let bytes: UnsafeRawBufferPointer

    static let typeKey = Array(#""type":""#.utf8)
    static let userSeqKey = Array(#""user_seq":"#.utf8)
    static let idKey = Array(#""id":"#.utf8)
    static let codeKey = Array(#""code":""#.utf8)
    static let clientMsgIDKey = Array(#""client_msg_id":""#.utf8)
    static let missedKey = Array(#""missed":"#.utf8)
    static let epochKey = Array(#""epoch":""#.utf8)
    static let duplicateTrue = Array(#""duplicate":true"#.utf8)
    static let retryAfterKey = Array(#""retry_after":"#.utf8)
    static let reasonKey = Array(#""reason":""#.utf8)

    /// First index of `needle` at or after `start`.
    func firstIndex(of needle: [UInt8], from start: Int = 0) -> Int? {
        let count = bytes.count, length = needle.count
        guard length > 0, count >= length else { return nil }
        let first = needle[0]
        var index = start
        while index <= count - length {
            if bytes[index] == first {
                var matched = true
                var offset = 1
                while offset < length {
                    if bytes[index + offset] != needle[offset] { matched = false; break }
                    offset += 1
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }

    /// Last index of `needle`.
    func lastIndex(of needle: [UInt8]) -> Int? {
        let count = bytes.count, length = needle.count
        guard length > 0, count >= length else { return nil }
        let first = needle[0]
        var index = count - length
        while index >= 0 {
            if bytes[index] == first {
                var matched = true
                var offset = 1
                while offset < length {
                    if bytes[index + offset] != needle[offset] { matched = false; break }
                    offset += 1
                }
                if matched { return index }
            }
            index -= 1
        }
        return nil
    }

    /// The decimal integer starting at `start` (an optional minus sign, then digits) and the index after it.
    func integer(at start: Int) -> (value: Int, end: Int)? {
        var index = start
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var value = 0
        let digitsStart = index
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 48, byte <= 57 else { break }
            value = value &* 10 &+ Int(byte - 48)
            index += 1
        }
        guard index > digitsStart else { return nil }
        return (negative ? -value : value, index)
    }

    /// The string that starts at `start` (just after its opening quote), up to the closing quote.
    func string(at start: Int) -> String {
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// The top-level frame type.
    var type: String? {
        guard let index = lastIndex(of: Self.typeKey) else { return nil }
        return string(at: index + Self.typeKey.count)
    }

    /// Compares the top-level type with `name` without allocating.
    func typeIs(_ name: StaticString, typeIndex: Int) -> Bool {
        let start = typeIndex + Self.typeKey.count
        let length = name.utf8CodeUnitCount
        guard start + length < bytes.count, bytes[start + length] == UInt8(ascii: "\"") else { return false }
        let pointer = name.utf8Start
        for offset in 0..<length where bytes[start + offset] != pointer[offset] { return false }
        return true
    }

    func lastInteger(after key: [UInt8]) -> Int? {
        guard let index = lastIndex(of: key) else { return nil }
        return integer(at: index + key.count)?.value
    }

    func firstInteger(after key: [UInt8]) -> Int? {
        guard let index = firstIndex(of: key) else { return nil }
        return integer(at: index + key.count)?.value
    }

    func firstString(after key: [UInt8]) -> String? {
        guard let index = firstIndex(of: key) else { return nil }
        return string(at: index + key.count)
    }

    func contains(_ needle: [UInt8]) -> Bool { firstIndex(of: needle) != nil }

    /// parley-bench's client message id, `B<tag>.<sender>.<seq>.<sent-at-ns>`, from an item frame.
    func benchMessage(tag: Int) -> (sender: Int, seq: Int, sentAt: UInt64)? {
        guard let start = firstIndex(of: Self.clientMsgIDKey) else { return nil }
        var index = start + Self.clientMsgIDKey.count
        guard index < bytes.count, bytes[index] == UInt8(ascii: "B") else { return nil }
        index += 1
        guard let runTag = integer(at: index), runTag.value == tag, runTag.end < bytes.count, bytes[runTag.end] == UInt8(ascii: ".") else {
            return nil
        }
        guard let sender = integer(at: runTag.end + 1), sender.end < bytes.count, bytes[sender.end] == UInt8(ascii: "."),
              let seq = integer(at: sender.end + 1), seq.end < bytes.count, bytes[seq.end] == UInt8(ascii: "."),
              let sentAt = integer(at: seq.end + 1) else { return nil }
        return (sender.value, seq.value, UInt64(sentAt.value))
    }
}

extension ByteBuffer {
    /// Appends `value` in decimal.
    @inline(__always)
    mutating func writeDecimal(_ value: Int) {
        if value < 0 {
            writeInteger(UInt8(ascii: "-"))
            writeDecimal(-value)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var rest = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[19 - count] = UInt8(48 + rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[(20 - count)...]))
        }
    }
}

import NIOCore
