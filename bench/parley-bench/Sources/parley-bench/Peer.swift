import NIOCore
import NIOWebSocket

/// One simulated device: a user's WebSocket connection and what it has seen. Its state outlives a connection
/// (a reconnect keeps the receipts and the resume position). Every property is touched only on `loop`; the
/// coordinator reaches it with `loop.submit`.
final class Peer: @unchecked Sendable {
    let index: Int
    let user: String
    let token: String
    let loop: any EventLoop
    let sourceAddress: SocketAddress?
    let run: RunState

    // The connection.
    var connection: WebSocketHandler?
    var helloPromise: EventLoopPromise<Void>?
    var connectStartedAt: UInt64 = 0
    var resumedAt: UInt64 = 0
    var missedPending = 0
    var lastMissed = 0
    var lastResumed = false
    var expectingClose = false
    var epoch: String?
    var lastUserSeq = 0
    var tokenUserSeq = 0
    var sendResume = false

    // What arrived.
    var trackReceipts = true
    var received: [Int: SeqSet] = [:]
    var recipientDeliveries = 0
    var echoDeliveries = 0
    var duplicates = 0
    var foreignItems = 0
    var latencies: [UInt32] = []
    var lastDeliveryAt: UInt64 = 0
    var resyncRequired = 0
    var slowConsumer = 0
    var goaway = 0
    var unexpectedCloses = 0
    var errorsByCode: [String: Int] = [:]

    // What it sends, if it sends.
    var sender: Sender?

    static let helloID = 1_000_000_000

    init(index: Int, user: String, token: String, loop: any EventLoop, sourceAddress: SocketAddress?, run: RunState) {
        self.index = index
        self.user = user
        self.token = token
        self.loop = loop
        self.sourceAddress = sourceAddress
        self.run = run
    }

    // MARK: connection lifecycle

    func beginConnect(_ promise: EventLoopPromise<Void>, resume: Bool) {
        loop.preconditionInEventLoop()
        helloPromise = promise
        sendResume = resume
        expectingClose = false
        missedPending = 0
        connectStartedAt = monotonicNanos()
    }

    func failConnect(_ error: any Error) {
        if let promise = helloPromise {
            helloPromise = nil
            promise.fail(error)
        }
    }

    /// Called by the handler once the upgrade is done: says hello, resuming from the last position when asked.
    func attached(_ handler: WebSocketHandler) {
        connection = handler
        var hello = #"{"type":"hello","id":\#(Self.helloID),"device":"bench-\#(index)""#
        if sendResume, let epoch {
            hello += #","resume":{"epoch":"\#(epoch)","user_seq":\#(lastUserSeq)}"#
        }
        hello += "}"
        handler.send(text: hello)
    }

    func detached(_ handler: WebSocketHandler) {
        guard connection === handler else { return }
        connection = nil
        if !expectingClose {
            unexpectedCloses += 1
            run.counters.unexpectedCloses.add(1, ordering: .relaxed)
        }
        failConnect(BenchError("connection closed before hello_ok (user \(user))"))
    }

    func close() {
        expectingClose = true
        sender?.pacing?.cancel()
        connection?.close()
    }

    private func finishResume(at now: UInt64) {
        resumedAt = now
        if tokenUserSeq > lastUserSeq { lastUserSeq = tokenUserSeq }
        if let promise = helloPromise {
            helloPromise = nil
            promise.succeed(())
        }
    }

    // MARK: sending

    /// Sends while the window has room.
    func pump() {
        guard let sender, sender.running, !sender.paced, let connection else { return }
        var wrote = false
        while sender.inFlight < sender.window && sender.nextSeq < sender.total {
            sendNext(sender, on: connection)
            wrote = true
        }
        if wrote { connection.flushIfOutsideRead() }
    }

    /// One paced tick: sends the next message if the window has room.
    func tick() {
        guard let sender, sender.running else { return }
        guard sender.nextSeq < sender.total else {
            sender.pacing?.cancel()
            sender.pacing = nil
            return
        }
        guard let connection, sender.inFlight < sender.window else {
            sender.missedTicks += 1
            return
        }
        sendNext(sender, on: connection)
        connection.flushIfOutsideRead()
    }

    private func sendNext(_ sender: Sender, on connection: WebSocketHandler) {
        let seq = sender.nextSeq
        let now = monotonicNanos()
        sender.sentAt[seq] = now
        sender.nextSeq += 1
        sender.inFlight += 1
        connection.send(sender.frame(seq: seq, now: now, allocator: connection.allocator))
    }

    // MARK: receiving

    func receive(_ buffer: ByteBuffer, at now: UInt64) {
        buffer.withUnsafeReadableBytes { raw in
            let scan = FrameScanner(bytes: raw)
            guard let typeIndex = scan.lastIndex(of: FrameScanner.typeKey) else {
                errorsByCode["client.unreadable_frame", default: 0] += 1
                return
            }
            if scan.typeIs("item", typeIndex: typeIndex) {
                item(scan, at: now)
            } else if scan.typeIs("ack", typeIndex: typeIndex) {
                ack(scan, at: now)
            } else if scan.typeIs("error", typeIndex: typeIndex) {
                error(scan)
            } else if scan.typeIs("hello_ok", typeIndex: typeIndex) {
                helloOK(scan, at: now)
            } else if scan.typeIs("feed", typeIndex: typeIndex) {
                if let userSeq = scan.lastInteger(after: FrameScanner.userSeqKey), userSeq > lastUserSeq { lastUserSeq = userSeq }
                countMissed(at: now)
            } else if scan.typeIs("resync_required", typeIndex: typeIndex) {
                if scan.firstString(after: FrameScanner.reasonKey) == "slow_consumer" {
                    slowConsumer += 1
                    run.counters.slowConsumers.add(1, ordering: .relaxed)
                } else {
                    resyncRequired += 1
                }
            } else if scan.typeIs("goaway", typeIndex: typeIndex) {
                goaway += 1
            }
            // typing, presence, receipt, badge, notification, pong: not measured.
        }
    }

    private func countMissed(at now: UInt64) {
        guard missedPending > 0 else { return }
        missedPending -= 1
        if missedPending == 0 { finishResume(at: now) }
    }

    private func item(_ scan: FrameScanner, at now: UInt64) {
        if let userSeq = scan.lastInteger(after: FrameScanner.userSeqKey), userSeq > lastUserSeq { lastUserSeq = userSeq }
        defer { countMissed(at: now) }
        guard let message = scan.benchMessage(tag: run.tag) else {
            foreignItems += 1
            return
        }
        if trackReceipts {
            let inserted = received[message.sender, default: SeqSet(capacity: run.messagesPerSender)].insert(message.seq)
            guard inserted else {
                duplicates += 1
                run.counters.duplicates.add(1, ordering: .relaxed)
                return
            }
        }
        run.counters.delivered.add(1, ordering: .relaxed)
        lastDeliveryAt = now
        if message.sender == sender?.index {
            echoDeliveries += 1
        } else {
            recipientDeliveries += 1
            let micros = now > message.sentAt ? (now - message.sentAt) / 1000 : 0
            latencies.append(UInt32(clamping: micros))
        }
    }

    private func ack(_ scan: FrameScanner, at now: UInt64) {
        guard let sender, let id = scan.firstInteger(after: FrameScanner.idKey), id >= 0, id < sender.total,
              !sender.settled.contains(id) else { return }
        _ = sender.settled.insert(id)
        _ = sender.acked.insert(id)
        sender.inFlight -= 1
        if scan.contains(FrameScanner.duplicateTrue) { sender.duplicateAcks += 1 }
        let sentAt = sender.sentAt[id]
        sender.ackLatencies.append(UInt32(clamping: now > sentAt ? (now - sentAt) / 1000 : 0))
        run.counters.acked.add(1, ordering: .relaxed)
        run.counters.settled.add(1, ordering: .relaxed)
        pump()
    }

    private func error(_ scan: FrameScanner) {
        let code = scan.firstString(after: FrameScanner.codeKey) ?? "unknown"
        let id = scan.firstInteger(after: FrameScanner.idKey)
        if let sender, let id, id >= 0, id < sender.total, !sender.settled.contains(id) {
            _ = sender.settled.insert(id)
            sender.inFlight -= 1
            sender.refusedByCode[code, default: 0] += 1
            run.counters.refused.add(1, ordering: .relaxed)
            run.counters.settled.add(1, ordering: .relaxed)
            pump()
            return
        }
        errorsByCode[code, default: 0] += 1
        if id == Self.helloID { failConnect(BenchError("hello refused for \(user): \(code)")) }
    }

    private func helloOK(_ scan: FrameScanner, at now: UInt64) {
        lastMissed = scan.firstInteger(after: FrameScanner.missedKey) ?? 0
        lastResumed = scan.contains(Array(#""resumed":true"#.utf8))
        if let epoch = scan.firstString(after: FrameScanner.epochKey) { self.epoch = epoch }
        tokenUserSeq = scan.lastInteger(after: FrameScanner.userSeqKey) ?? 0
        if lastMissed > 0 {
            missedPending = lastMissed
        } else {
            finishResume(at: now)
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
