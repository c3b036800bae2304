import Foundation
import NIOCore
import ParleyCore
import Synchronization

/// One WebSocket connection of one user's device.
///
/// Its life has three phases. Before `hello` it is not attached to the hub and receives nothing. While
/// it resumes, live frames are buffered, because the missed items are still being sent. Once live,
/// frames go straight to the outbound queue, and any item whose feed position (`user_seq`) the connection
/// already has is dropped, so each item reaches each connection exactly once and in feed order.
final class Session: Sendable {
    enum Phase {
        case awaitingHello
        case resuming(buffer: [(frame: OutboundQueue.Frame, userSeq: Int64?)])
        case live(lastUserSeq: Int64)
        case closed
    }

    let id: String
    let user: UserID
    let roles: Set<Role>
    let queue: OutboundQueue
    let remoteIP: String?
    private let channel: any Channel
    /// The channel handler that writes this session's queue; set on the event loop when the handler is
    /// added and cleared when the channel closes (so the two do not keep each other alive).
    let connection: NIOLoopBoundBox<GatewayConnection?>
    private let phase = Mutex<Phase>(.awaitingHello)
    private let deviceName = Mutex<String?>(nil)
    private let watching = Mutex<Set<UserID>>([])
    private let typingBuckets = Mutex<[String: TokenBucket]>([:])
    /// The last frame of a connection that fell too far behind (one string for all sessions).
    private static let overflowFrame = FrameCodec.encode("resync_required", ["reason": "slow_consumer"])

    /// `remoteIP`: the client's address when a trusted proxy forwarded it; the channel's peer by default.
    init(id: String, user: UserID, roles: Set<Role>, queueCapacity: Int, channel: any Channel, remoteIP: String? = nil) {
        self.id = id
        self.user = user
        self.roles = roles
        self.channel = channel
        self.remoteIP = remoteIP ?? channel.remoteAddress?.ipAddress
        queue = OutboundQueue(capacity: queueCapacity)
        connection = .makeEmptyBox(valueType: GatewayConnection.self, eventLoop: channel.eventLoop)
    }

    var device: String? {
        get { deviceName.withLock { $0 } }
        set { deviceName.withLock { $0 = newValue } }
    }

    var isLive: Bool {
        phase.withLock { if case .live = $0 { return true } else { return false } }
    }

    /// Sends a reply or a frame the session itself produced (acks, errors, pongs): never deduplicated.
    func reply(_ text: String) {
        enqueue(.durable(text))
    }

    /// Queues a frame outside the feed order and wakes the writer if it was idle.
    private func enqueue(_ frame: OutboundQueue.Frame) {
        let (outcome, wake) = queue.enqueue(frame, overflowFrame: Self.overflowFrame)
        if wake { wakeWriter() }
        if outcome == .overflowed { forceClose() }
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Asks the channel handler to write what is queued (one hop to the event loop per burst).
    private func wakeWriter() {
        let connection = connection
        channel.eventLoop.execute { connection.value?.writeQueued() }
    }

    /// Starts buffering live frames: called when the session attaches to the hub, before the resume query.
    func beginResume() {
        phase.withLock { phase in
            if case .awaitingHello = phase { phase = .resuming(buffer: []) }
        }
    }

    var isClosed: Bool {
        phase.withLock { if case .closed = $0 { return true } else { return false } }
    }

    /// Ends the resume: the connection now has every item up to `lastUserSeq`; buffered frames after it follow.
    func goLive(lastUserSeq: Int64) {
        // The buffer is replayed inside the lock that admits live frames: a frame the fan-out delivers while
        // the buffer drains must not overtake a buffered one (its higher user_seq would make the buffered
        // frame look like a duplicate, and it would be dropped).
        let (overflowed, wake) = phase.withLock { phase -> (Bool, Bool) in
            guard case .resuming(let buffer) = phase else { return (false, false) }
            var last = lastUserSeq
            var wake = false
            for entry in buffer {
                if let userSeq = entry.userSeq {
                    guard userSeq > last else { continue }
                    last = userSeq
                }
                let queued = queue.enqueue(entry.frame, overflowFrame: Self.overflowFrame)
                wake = wake || queued.wake
                if queued.outcome == .overflowed { return (true, wake) }
            }
            phase = .live(lastUserSeq: last)
            return (false, wake)
        }
        if wake { wakeWriter() }
        if overflowed { forceClose() }
    }

    /// A frame from the fan-out or another session. Items carry their `user_seq` for this user.
    ///
    /// Live frames are queued inside the phase lock, so frames reach the queue in the order their
    /// `user_seq` was admitted, whichever thread delivers them.
    /// With `wakes`, the writer is woken by the caller once its batch is queued (see `WriterWakes`).
    func deliver(_ frame: OutboundQueue.Frame, userSeq: Int64?, wakes: WriterWakes? = nil) {
        enum Decision { case queued(wake: Bool), drop, queueOverflow, resumeOverflow }
        let decision = phase.withLock { phase -> Decision in
            switch phase {
            case .awaitingHello, .closed:
                return .drop
            case .resuming(var buffer):
                guard buffer.count < queue.capacity else {
                    phase = .closed
                    return .resumeOverflow
                }
                buffer.append((frame, userSeq))
                phase = .resuming(buffer: buffer)
                return .drop
            case .live(let last):
                if let userSeq {
                    guard userSeq > last else { return .drop }
                    phase = .live(lastUserSeq: userSeq)
                }
                let queued = queue.enqueue(frame, overflowFrame: Self.overflowFrame)
                return queued.outcome == .overflowed ? .queueOverflow : .queued(wake: queued.wake)
            }
        }
        switch decision {
        case .queued(let wake):
            guard wake else { break }
            if let wakes { wakes.add(self) } else { wakeWriter() }
        case .drop:
            break
        case .queueOverflow:
            forceClose()
        case .resumeOverflow:
            // The resume buffer overflowed: this client is far behind; let it resync.
            forceClose()
        }
    }

    /// Closes the TCP connection at once, without waiting for the client to read: the only safe move
    /// when a client has stopped reading and its queue is full.
    func forceClose() {
        phase.withLock { $0 = .closed }
        _ = queue.close()
        channel.close(promise: nil)
    }

    /// Stops the session gracefully: queued frames are still written, then the connection closes.
    func finish() {
        phase.withLock { $0 = .closed }
        if queue.close() { wakeWriter() }
    }

    // MARK: Presence and typing state

    func watch(_ users: [UserID], limit: Int) -> Bool {
        watching.withLock { set in
            guard set.union(users).count <= limit else { return false }
            set.formUnion(users)
            return true
        }
    }

    func unwatch(_ users: [UserID]) {
        watching.withLock { $0.subtract(users) }
    }

    var watchedUsers: Set<UserID> { watching.withLock { $0 } }

    /// Whether another typing signal for `conversationID` may be relayed now (at most one a second, bursts of 3).
    func allowTyping(in conversationID: String, now: Double) -> Bool {
        typingBuckets.withLock { buckets in
            var bucket = buckets[conversationID] ?? TokenBucket(rate: 1, burst: 3, now: now)
            let allowed = bucket.take(now: now) == nil
            buckets[conversationID] = bucket
            if buckets.count > 256 { buckets.removeAll() }
            return allowed
        }
    }
}
