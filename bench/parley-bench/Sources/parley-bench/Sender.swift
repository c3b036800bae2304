import NIOCore

/// The sending side of one connection: a pre-encoded frame prefix, a window of sends awaiting their ack,
/// and what came back for each sequence number. Touched only on its peer's event loop.
final class Sender {
    /// This sender's number within the run (unique across connections).
    let index: Int
    /// `{"type":"send","conversation_id":"…","kind":"text","client_msg_id":"B<tag>.<index>.`
    let prefix: [UInt8]
    let total: Int
    var window: Int
    var nextSeq = 0
    var inFlight = 0
    var acked: SeqSet
    var settled: SeqSet
    var sentAt: [UInt64]
    var refusedByCode: [String: Int] = [:]
    var duplicateAcks = 0
    var ackLatencies: [UInt32] = []
    var running = false
    var pacing: RepeatedTask?
    /// A paced sender sends on its timer only; an ack does not release the next send.
    var paced = false
    /// Paced ticks that found the window full or the connection down (the message was not sent then).
    var missedTicks = 0


    init(index: Int, tag: Int, conversationID: String, total: Int, window: Int) {
        self.index = index
        self.total = total
        self.window = max(1, window)
        prefix = Array(#"{"type":"send","conversation_id":"\#(conversationID)","kind":"text","client_msg_id":"B\#(tag).\#(index)."#.utf8)
        acked = SeqSet(capacity: total)
        settled = SeqSet(capacity: total)
        sentAt = [UInt64](repeating: 0, count: total)
        ackLatencies.reserveCapacity(total)
    }

    /// Encodes send number `seq`, stamped `now`: the client message id carries tag, sender, seq and send time;
    /// the request id is `seq`; the text varies per message (Parley refuses exact repeats from one sender).
    func frame(seq: Int, now: UInt64, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: prefix.count + 96)
        buffer.writeBytes(prefix)
        buffer.writeDecimal(seq)
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeDecimal(Int(now))
        buffer.writeStaticString(#"","body":{"text":"bench "#)
        buffer.writeDecimal(index)
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeDecimal(seq)
        buffer.writeStaticString(#""},"id":"#)
        buffer.writeDecimal(seq)
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }
}
