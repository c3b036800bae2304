import Foundation
import NIOCore

/// A message prepared for the `DATA` command (RFC 5321 §4.5.2): every line ending made CRLF (bare LF and
/// bare CR included), every line that starts with `.` given one more `.`, the last line terminated, and
/// the `.` line that ends the data appended.
struct SMTPMessageData {
    /// The bytes to write after the server's `354`, up to and including the final `.\r\n`.
    var bytes: ByteBuffer
    /// Whether the message has bytes above 127 (so `BODY=8BITMIME` is worth announcing).
    var hasEightBitBytes: Bool
    /// The message's size as transmitted, without the stuffing and the final `.` line (for `SIZE=`).
    var size: Int

    init(_ message: Data, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        var output = allocator.buffer(capacity: message.count + message.count / 40 + 8)
        var eightBit = false
        var size = 0
        var atLineStart = true
        var previousWasCR = false
        for byte in message {
            switch byte {
            case UInt8(ascii: "\r"):
                output.writeStaticString("\r\n")
                size += 2
                atLineStart = true
                previousWasCR = true
                continue
            case UInt8(ascii: "\n"):
                if !previousWasCR {
                    output.writeStaticString("\r\n")
                    size += 2
                }
                atLineStart = true
            default:
                if atLineStart && byte == UInt8(ascii: ".") { output.writeInteger(UInt8(ascii: ".")) }
                if byte > 127 { eightBit = true }
                output.writeInteger(byte)
                size += 1
                atLineStart = false
            }
            previousWasCR = false
        }
        if !atLineStart {
            output.writeStaticString("\r\n")
            size += 2
        }
        output.writeStaticString(".\r\n")
        self.bytes = output
        self.hasEightBitBytes = eightBit
        self.size = size
    }
}
