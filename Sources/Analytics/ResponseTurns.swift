/// Turns and answers in direct conversations: the pure rules behind the response metrics.
///
/// A *turn* is a maximal run of consecutive messages by one user (ordered by time, then log position),
/// started by that user's first message after the other user's (or the conversation's first message).
/// The turn is *answered* by the other user's next message. It counts as *responded* when the answer comes
/// at most `window` after the turn's start (exactly at the window counts). It is *closed* once responded, or
/// once its window has passed (answered late or not at all); open turns are left out of the response rate.
enum ResponseTurns {
    struct Message: Sendable, Equatable {
        var conversation: String
        var sender: String
        var at: Int64
        var position: Int64
    }

    struct Turn: Sendable, Equatable {
        var conversation: String
        var start: Int64
        /// When the other user's next message came, if it did (within the data given).
        var answeredAt: Int64?

        func responded(windowMs: Int64) -> Bool {
            guard let answeredAt else { return false }
            return answeredAt - start <= windowMs
        }

        func closed(windowMs: Int64, nowMs: Int64) -> Bool {
            responded(windowMs: windowMs) || start + windowMs < nowMs
        }
    }

    /// The turns that start among `messages`; `previousSender` names, per conversation, who sent the last message
    /// before them (a run continuing from before does not start a turn).
    static func turns(_ messages: [Message], previousSender: [String: String]) -> [Turn] {
        let sorted = messages.sorted { ($0.conversation, $0.at, $0.position) < ($1.conversation, $1.at, $1.position) }
        var turns: [Turn] = []
        var index = 0
        while index < sorted.count {
            let conversation = sorted[index].conversation
            var last = previousSender[conversation]
            var open: Int?  // index in `turns` of the turn waiting for an answer
            while index < sorted.count, sorted[index].conversation == conversation {
                let message = sorted[index]
                if message.sender != last {
                    if let open { turns[open].answeredAt = message.at }
                    turns.append(Turn(conversation: conversation, start: message.at, answeredAt: nil))
                    open = turns.count - 1
                    last = message.sender
                }
                index += 1
            }
        }
        return turns
    }

    /// The nearest-rank percentile: the value at rank ⌈p × n⌉ (1-based) of the sorted values; nil when empty.
    static func percentile(_ values: [Int64], _ p: Double) -> Int64? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = max(1, Int((p * Double(sorted.count)).rounded(.up)))
        return sorted[min(rank, sorted.count) - 1]
    }
}
