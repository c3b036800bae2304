import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore
import Synchronization

/// The NIO side of one accepted WebSocket connection: a channel handler, not a task.
///
/// An idle connection costs its channel, this handler, its `Session` and two timers; no task and no
/// stream exist for it. Work appears only when there is some: inbound text frames go to a `FrameInbox`,
/// which starts a task to handle them in order and lets it end when they are done; outbound frames are
/// written from the session's queue on the event loop when the session wakes this handler, one hop per
/// burst, and only while the socket accepts more (the queue absorbs the rest, up to its capacity).
final class GatewayConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let session: Session
    private let sessionHandler: SessionHandler
    private let inbox: FrameInbox
    private let settings: GatewaySettings
    private let hub: ConnectionHub
    private var context: ChannelHandlerContext?
    /// Set once our close frame is written: from then on only the peer's close (or a deadline) matters.
    private var closeSent = false
    private var writing = false
    private var writeAgain = false
    private var awaitingPong = false
    private var keepAlive: RepeatedTask?
    private var helloDeadline: Scheduled<Void>?
    private var closeDeadline: Scheduled<Void>?
    private var tornDown = false

    init(session: Session, sessionHandler: SessionHandler, hub: ConnectionHub, settings: GatewaySettings) {
        self.session = session
        self.sessionHandler = sessionHandler
        self.hub = hub
        self.settings = settings
        inbox = FrameInbox(capacity: settings.inboundQueueCapacity)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        session.connection.value = self
        hub.register(session)
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        // A connection that never says hello is closed after a while, so idle sockets cannot pile up.
        helloDeadline = context.eventLoop.scheduleTask(in: .milliseconds(Int64(settings.helloTimeoutSeconds * 1000))) {
            loopBound.value.helloDeadlinePassed()
        }
        let interval = TimeAmount.milliseconds(Int64(settings.pingIntervalSeconds * 1000))
        keepAlive = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            loopBound.value.keepAliveTick()
        }
        // Nothing can be queued yet (the session reaches the hub only at hello); no write is needed here.
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    /// The server allows half-closed connections (HTTP needs them), so a client that shuts its side
    /// arrives as an event, not as the channel going inactive: nothing more can be read, so close.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func tearDown() {
        guard !tornDown else { return }
        tornDown = true
        helloDeadline?.cancel()
        keepAlive?.cancel()
        closeDeadline?.cancel()
        helloDeadline = nil
        keepAlive = nil
        closeDeadline = nil
        inbox.stop()
        session.finish()
        session.connection.value = nil
        hub.detach(session)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard !closeSent else { return }
            let text = String(buffer: frame.unmaskedData)
            if inbox.push(text) { startHandling(context: context) }
        case .binary:
            guard !closeSent else { return }
            session.reply(FrameCodec.error(id: nil, ParleyError(.badRequest, code: "gateway.text_only",
                                                                message: "Frames are JSON text; binary frames are not accepted.")))
        case .ping:
            guard !closeSent else { return }
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            awaitingPong = false
        case .connectionClose:
            if closeSent {
                context.close(promise: nil)
            } else {
                // Echo the peer's status code (RFC 6455 §5.5.1), then close.
                var data = frame.unmaskedData
                let code = data.readWebSocketErrorCode() ?? .normalClosure
                closeSent = true
                context.writeAndFlush(wrapOutboundOut(.close(code, reason: nil, allocator: context.channel.allocator)))
                    .whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
            }
        default:
            // Continuations are joined by the aggregator before they reach this handler.
            break
        }
    }

    /// Starts a task that handles the inbox's frames, in order, and ends when it is empty.
    private func startHandling(context: ChannelHandlerContext) {
        let inbox = inbox
        let sessionHandler = sessionHandler
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            while let texts = inbox.nextBatch() {
                await sessionHandler.handle(texts)
                if inbox.takeReadResumption() {
                    eventLoop.execute { loopBound.value.resumeReading() }
                }
            }
        }
    }

    /// A read is held back while the inbox is full: the socket is not read until the inbox drains, so a
    /// client that pipelines faster than its frames are handled is slowed by TCP, not buffered. The inbox
    /// remembers the held read and says when it may go ahead (`takeReadResumption`).
    func read(context: ChannelHandlerContext) {
        if !inbox.holdRead() { context.read() }
    }

    private func resumeReading() {
        context?.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOWebSocketFrameAggregator.Error {
            // A message over the size limit or a malformed fragment sequence: say which, then close.
            let code: WebSocketErrorCode = error == .accumulatedFrameSizeIsTooLarge ? .messageTooLarge : .protocolError
            sendClose(code: code, reason: nil)
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: Outbound

    /// Writes what the session has queued, for as long as the socket accepts more.
    ///
    /// Flushing can make the channel writable again, which calls this method from inside itself; such a
    /// call only asks for another pass (otherwise its wake-up would be lost: the queue still counts as
    /// being drained, so nobody would wake the handler again).
    func writeQueued() {
        guard let context, !closeSent else { return }
        guard !writing else {
            writeAgain = true
            return
        }
        writing = true
        defer { writing = false }
        repeat {
            writeAgain = false
            var wrote = false
            var finished = false
            draining: while context.channel.isWritable {
                switch session.queue.take(limit: 64) {
                case .frames(let texts):
                    for text in texts {
                        context.write(wrapOutboundOut(.text(text, allocator: context.channel.allocator)), promise: nil)
                    }
                    wrote = true
                case .idle:
                    break draining
                case .finished:
                    finished = true
                    break draining
                }
            }
            // Not writable: `channelWritabilityChanged` resumes once the socket has drained.
            if wrote { context.flush() }
            if finished {
                sendClose(code: .normalClosure, reason: nil)
                return
            }
        } while writeAgain
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writeQueued() }
        context.fireChannelWritabilityChanged()
    }

    /// Writes a close frame and waits for the peer's (RFC 6455 §7.1.1: the server closes TCP once both
    /// are exchanged), closing anyway after a deadline. Closing without waiting could lose the frames
    /// just written: a socket closed with unread input sends a reset.
    func sendClose(code: WebSocketErrorCode, reason: String?) {
        guard let context, !closeSent else { return }
        closeSent = true
        inbox.stop()
        context.writeAndFlush(wrapOutboundOut(.close(code, reason: reason, allocator: context.channel.allocator)), promise: nil)
        closeDeadline = context.eventLoop.scheduleTask(in: .seconds(5)) { [channel = context.channel] in
            channel.close(promise: nil)
        }
    }

    // MARK: Timers

    private func helloDeadlinePassed() {
        helloDeadline = nil
        guard !sessionHandler.saidHello else { return }
        session.reply(FrameCodec.error(id: nil, ParleyError(.badRequest, code: "gateway.hello_timeout", message: "Send hello first.")))
        session.finish()
    }

    /// Pings the client; one that has not answered the previous ping by now is gone, and is closed.
    private func keepAliveTick() {
        guard let context, !closeSent else { return }
        if awaitingPong {
            sendClose(code: .goingAway, reason: "ping timeout")
            return
        }
        awaitingPong = true
        var data = context.channel.allocator.buffer(capacity: 8)
        data.writeInteger(UInt64.random(in: 0 ... .max))
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: data)), promise: nil)
    }
}

/// Text frames received on one connection and not yet handled, and whether a task is handling them.
///
/// Frames are handled in arrival order (whatever is waiting is taken together), so a client's pipelined
/// sends are stored in the order it sent them. The task exists only while there are frames.
final class FrameInbox: Sendable {
    private struct State {
        var frames: [String] = []
        var running = false
        var stopped = false
        /// The handler held back a socket read because the inbox was full.
        var readHeld = false
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds a frame; true when no task is handling frames and the caller must start one.
    func push(_ text: String) -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.frames.append(text)
            guard !state.running else { return false }
            state.running = true
            return true
        }
    }

    /// Every frame waiting, in order, or nil when there is none (the task then ends; the next `push`
    /// starts another). Taking them together lets consecutive sends be stored in one transaction.
    func nextBatch() -> [String]? {
        state.withLock { state in
            guard !state.stopped, !state.frames.isEmpty else {
                state.running = false
                state.frames = []
                return nil
            }
            defer { state.frames.removeAll(keepingCapacity: true) }
            return state.frames
        }
    }

    /// Whether a socket read should wait (the inbox is full); if so, remembers that one is waiting.
    func holdRead() -> Bool {
        state.withLock { state in
            guard state.frames.count >= capacity else { return false }
            state.readHeld = true
            return true
        }
    }

    /// True once, when a held read may go ahead (the inbox has drained to half).
    func takeReadResumption() -> Bool {
        state.withLock { state in
            guard state.readHeld, state.frames.count * 2 <= capacity else { return false }
            state.readHeld = false
            return true
        }
    }

    /// Drops unhandled frames and refuses new ones: the connection is closing.
    func stop() {
        state.withLock { state in
            state.stopped = true
            state.frames = []
        }
    }
}

extension WebSocketFrame {
    /// A text frame carrying `text`.
    static func text(_ text: String, allocator: ByteBufferAllocator) -> WebSocketFrame {
        var data = allocator.buffer(capacity: text.utf8.count)
        data.writeString(text)
        return WebSocketFrame(fin: true, opcode: .text, data: data)
    }

    /// A close frame with its status code and, optionally, a reason.
    static func close(_ code: WebSocketErrorCode, reason: String?, allocator: ByteBufferAllocator) -> WebSocketFrame {
        var data = allocator.buffer(capacity: 2 + (reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: code)
        if let reason { data.writeString(reason) }
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }
}
