import Foundation
import Logging
import Messaging
import ParleyCore
import ParleyHTTP
import Synchronization

/// Handles the frames of one connection, in order: replies are queued in the order the frames came, and
/// a client's pipelined sends are stored in the order it sent them.
final class SessionHandler: Sendable {
    let gateway: Gateway
    let session: Session
    let logger: Logger
    private let helloDone = Mutex(false)
    private let inboundBucket: Mutex<TokenBucket>

    init(gateway: Gateway, session: Session, logger: Logger) {
        self.gateway = gateway
        self.session = session
        self.logger = logger
        inboundBucket = Mutex(TokenBucket(rate: gateway.settings.inboundRate, burst: gateway.settings.inboundBurst,
                                          now: gateway.clock.now().timeIntervalSince1970))
    }

    var saidHello: Bool { helloDone.withLock { $0 } }
    var messaging: MessagingService { gateway.messaging }
    var user: UserID { session.user }

    static let sendsPerTransaction = 64

    /// Handles frames received together, in order. Consecutive `send` frames are stored in one transaction
    /// (`MessagingService.sendAll`); every frame still gets its own reply, in the order the frames came.
    func handle(_ texts: [String]) async {
        var sends: [(frame: FrameCodec.ClientFrame, draft: MessageDraft)] = []
        for text in texts {
            var requestID: Int?
            do {
                let frame = try FrameCodec.decode(text)
                requestID = frame.id
                try takeInboundToken()
                if frame.type == "send", saidHello {
                    sends.append((frame, try prepareSend(frame)))
                    // One transaction holds SQLite's writer: a long run of sends is stored in several.
                    if sends.count >= Self.sendsPerTransaction { await storeSends(&sends) }
                    continue
                }
                await storeSends(&sends)
                try await dispatch(frame)
            } catch {
                // Replies keep the frames' order: the sends before this frame are answered first.
                await storeSends(&sends)
                reply(error, to: requestID)
            }
        }
        await storeSends(&sends)
    }

    private func takeInboundToken() throws(ParleyError) {
        if let wait = inboundBucket.withLock({ $0.take(now: gateway.clock.now().timeIntervalSince1970) }) {
            throw ParleyError(.rateLimited, code: "gateway.rate_limited", message: "Too many frames; slow down.",
                              retryAfter: max(1, Int(wait.rounded(.up))))
        }
    }

    private func reply(_ error: any Error, to requestID: Int?) {
        if let error = error as? ParleyError {
            session.reply(FrameCodec.error(id: requestID, error))
        } else {
            logger.error("gateway frame failed", metadata: ["error": "\(String(reflecting: error))", "user": "\(user.rawValue)"])
            session.reply(FrameCodec.error(id: requestID, ParleyError.internalError))
        }
    }

    /// Applies the send rate limit to the pending sends (all of them at once: one round trip when the counts are
    /// shared), stores those it lets through (one transaction for all of them) and answers each, in order.
    private func storeSends(_ sends: inout [(frame: FrameCodec.ClientFrame, draft: MessageDraft)]) async {
        guard !sends.isEmpty else { return }
        let pending = sends
        sends.removeAll()
        let refusals = await gateway.limiter.checkEach(.sendMessage, keys: pending.map { send in
            RateLimitKeys(user: user, roles: session.roles, ip: session.remoteIP, device: session.device,
                          conversation: send.draft.conversationID)
        })
        let admitted = zip(pending, refusals).filter { $0.1 == nil }.map(\.0)
        var outcomes = await messaging.sendAll(admitted.map(\.draft), by: .user(user)).makeIterator()
        for (send, refusal) in zip(pending, refusals) {
            let outcome: Result<SendReceipt, any Error> = if let refusal { .failure(refusal) } else {
                outcomes.next() ?? .failure(ParleyError.internalError)
            }
            switch outcome {
            case .success(let receipt):
                session.reply(FrameCodec.sendAck(receipt, id: send.frame.id))
            case .failure(let error):
                reply(error, to: send.frame.id)
            }
        }
    }

    func dispatch(_ frame: FrameCodec.ClientFrame) async throws {
        if frame.type == "ping" {
            session.reply(FrameCodec.encode("pong", frame.id.map { ["id": .int($0)] } ?? [:]))
            return
        }
        if frame.type == "hello" {
            try await hello(frame)
            return
        }
        guard saidHello else {
            throw ParleyError(.badRequest, code: "gateway.hello_required", message: "Send hello before anything else.")
        }
        // `send` never gets here after hello: `handle` stores runs of sends together.
        switch frame.type {
        case "edit": try await edit(frame)
        case "recall": try await recall(frame)
        case "react": try await react(frame)
        case "read": try await read(frame)
        case "typing": try await typing(frame)
        case "history": try await history(frame)
        case "sync": try await sync(frame)
        case "presence.sub": try presence(frame, subscribe: true)
        case "presence.unsub": try presence(frame, subscribe: false)
        default:
            throw ParleyError(.badRequest, code: "gateway.unknown_type", message: "Unknown frame type '\(frame.type)'.",
                              details: ["type": .string(frame.type)])
        }
    }

    func ack(_ frame: FrameCodec.ClientFrame, _ fields: [String: JSONValue]) {
        var fields = fields
        if let id = frame.id { fields["id"] = .int(id) }
        session.reply(FrameCodec.encode("ack", fields))
    }

    // MARK: hello and resume

    func hello(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["device", "resume", "token"])
        guard helloDone.withLock({ done in
            defer { done = true }
            return !done
        }) else {
            throw ParleyError(.badRequest, code: "gateway.already_hello", message: "hello was already received on this connection.")
        }
        if let device = try frame.optionalString("device") {
            guard device.utf8.count <= 128 else { throw ParleyError.fieldTooLong("device", limit: 128) }
            session.device = device
        }
        var token: MessagingService.ResumeToken?
        if let resume = frame.fields["resume"], resume != .null {
            guard case .object(let object) = resume, case .string(let epoch)? = object["epoch"], case .int(let userSeq)? = object["user_seq"] else {
                throw ParleyError.invalidField("resume", "expected {\"epoch\": string, \"user_seq\": integer}")
            }
            token = MessagingService.ResumeToken(epoch: epoch, userSeq: Int64(userSeq))
        }
        // A client without a token starts from the feed's head as it is now, read before attaching: a message
        // committed between attaching and answering is then in the delta, not lost in the gap.
        let start: MessagingService.ResumeToken
        if let token { start = token } else { start = try await messaging.currentToken(for: user) }
        // Attach first, then read what was missed: anything committed meanwhile is buffered, not lost,
        // and anything in both is dropped by its user_seq.
        session.beginResume()
        gateway.hub.attach(session)
        await gateway.recordConnection(user, session.device)
        let badge = try await messaging.badge(for: user)
        switch try await messaging.resume(user, from: start) {
        case .delta(let entries, let after):
            var fields: [String: JSONValue] = [
                "session_id": .string(session.id), "user_id": .string(user.rawValue), "token": MessagingWire.token(after),
                "resumed": .bool(token != nil), "missed": .int(entries.count), "badge": .int(badge),
                "limits": limitsDescription,
            ]
            if let id = frame.id { fields["id"] = .int(id) }
            session.reply(FrameCodec.encode("hello_ok", fields))
            for entry in entries {
                if let text = Self.feedFrame(entry) { session.reply(text) }
            }
            session.goLive(lastUserSeq: after.userSeq)
        case .resyncRequired(let lastSeqs, let current):
            var fields: [String: JSONValue] = [
                "session_id": .string(session.id), "user_id": .string(user.rawValue), "token": MessagingWire.token(current),
                "resumed": false, "missed": 0, "badge": .int(badge), "limits": limitsDescription,
            ]
            if let id = frame.id { fields["id"] = .int(id) }
            session.reply(FrameCodec.encode("hello_ok", fields))
            session.reply(FrameCodec.encode("resync_required", [
                "reason": "resume_unavailable", "token": MessagingWire.token(current),
                "last_seqs": .object(lastSeqs.mapValues { .int(Int($0)) }),
            ]))
            session.goLive(lastUserSeq: current.userSeq)
        }
    }

    var limitsDescription: JSONValue {
        [
            "max_frame_bytes": .int(gateway.settings.maxFrameSize),
            "inbound_per_second": .int(Int(gateway.settings.inboundRate)),
            "outbound_queue": .int(gateway.settings.outboundQueueCapacity),
        ]
    }

    /// The frame for one feed entry: an `item`, or a `feed` frame for a read move.
    static func feedFrame(_ entry: MessagingService.FeedEntry) -> String? {
        switch entry.kind {
        case "item":
            guard let item = entry.item else { return nil }
            return itemFrame(item, userSeq: entry.userSeq)
        default:
            return FrameCodec.encode("feed", [
                "kind": .string(entry.kind), "conversation_id": .string(entry.conversationID), "seq": .int(Int(entry.seq)),
                "user_seq": .int(Int(entry.userSeq)),
            ])
        }
    }

    static func itemFrame(_ item: Item, userSeq: Int64) -> String {
        ItemFrame(item).text(userSeq: userSeq)
    }

    // MARK: Messages

    /// Validates a `send` frame and returns its draft (the rate limit applies when the run of sends is stored).
    func prepareSend(_ frame: FrameCodec.ClientFrame) throws -> MessageDraft {
        try frame.only(["conversation_id", "client_msg_id", "kind", "body", "reply_to", "mentions", "forwarded_from"])
        let kindName = try frame.optionalString("kind") ?? "text"
        guard let kind = ItemKind(rawValue: kindName) else { throw ParleyError.invalidField("kind", "unknown kind '\(kindName)'") }
        guard let body = frame.fields["body"] else { throw ParleyError.missingField("body") }
        let conversationID = try frame.string("conversation_id")
        return try MessageDraft(
            conversationID: conversationID, clientMsgID: try frame.optionalString("client_msg_id"), kind: kind,
            body: body, replyTo: try frame.optionalString("reply_to"), mentions: try frame.stringArray("mentions"),
            forwardedFrom: try frame.optionalString("forwarded_from")
        )
    }

    func edit(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["conversation_id", "message_id", "body"])
        guard let body = frame.fields["body"] else { throw ParleyError.missingField("body") }
        let item = try await messaging.edit(try frame.string("conversation_id"), messageID: try frame.string("message_id"), body: body,
                                            by: .user(user))
        ack(frame, ["conversation_id": .string(item.conversationID), "seq": .int(Int(item.seq))])
    }

    func recall(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["conversation_id", "message_id"])
        let item = try await messaging.recall(try frame.string("conversation_id"), messageID: try frame.string("message_id"), by: .user(user))
        ack(frame, ["conversation_id": .string(item.conversationID), "seq": .int(Int(item.seq))])
    }

    func react(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["conversation_id", "message_id", "emoji", "action"])
        let action = try frame.optionalString("action") ?? "add"
        guard action == "add" || action == "remove" else { throw ParleyError.invalidField("action", "use add or remove") }
        let item = try await messaging.react(try frame.string("conversation_id"), messageID: try frame.string("message_id"),
                                             emoji: try frame.string("emoji"), add: action == "add", by: user)
        ack(frame, ["conversation_id": try .string(frame.string("conversation_id")), "seq": item.map { .int(Int($0.seq)) } ?? .null,
                    "changed": .bool(item != nil)])
    }

    func read(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["conversation_id", "seq"])
        let state = try await messaging.markRead(try frame.string("conversation_id"), upTo: try frame.int("seq"), by: user)
        guard case .object(let fields) = MessagingWire.readState(state) else { return }
        ack(frame, fields)
    }

    func history(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["conversation_id", "after_seq", "before_seq", "limit"])
        let conversationID = try frame.string("conversation_id")
        let page = try await messaging.history(conversationID, for: .user(user), afterSeq: try frame.optionalInt("after_seq"),
                                               beforeSeq: try frame.optionalInt("before_seq"), limit: Int(try frame.optionalInt("limit") ?? 50))
        var fields: [String: JSONValue] = [
            "conversation_id": .string(conversationID), "items": .array(page.items.map(MessagingWire.item)), "has_more": .bool(page.hasMore),
        ]
        if let id = frame.id { fields["id"] = .int(id) }
        session.reply(FrameCodec.encode("history", fields))
    }

    func sync(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["epoch", "user_seq"])
        var token: MessagingService.ResumeToken?
        if let epoch = try frame.optionalString("epoch") {
            token = MessagingService.ResumeToken(epoch: epoch, userSeq: try frame.int("user_seq"))
        }
        var fields: [String: JSONValue] = [:]
        switch try await messaging.resume(user, from: token) {
        case .delta(let entries, let after):
            fields = [
                "resync_required": false, "token": MessagingWire.token(after),
                "entries": .array(entries.map { entry in
                    .object([
                        "user_seq": .int(Int(entry.userSeq)), "conversation_id": .string(entry.conversationID), "seq": .int(Int(entry.seq)),
                        "kind": .string(entry.kind), "item": entry.item.map(MessagingWire.item) ?? .null,
                    ])
                }),
            ]
        case .resyncRequired(let lastSeqs, let current):
            fields = ["resync_required": true, "token": MessagingWire.token(current), "last_seqs": .object(lastSeqs.mapValues { .int(Int($0)) })]
        }
        if let id = frame.id { fields["id"] = .int(id) }
        session.reply(FrameCodec.encode("sync", fields))
    }

    // MARK: Ephemeral signals

    func typing(_ frame: FrameCodec.ClientFrame) async throws {
        try frame.only(["conversation_id", "state"])
        let conversationID = try frame.string("conversation_id")
        let state = try frame.optionalString("state") ?? "start"
        guard state == "start" || state == "stop" else { throw ParleyError.invalidField("state", "use start or stop") }
        // Over the limit, typing is shed silently: it is only a hint.
        guard session.allowTyping(in: conversationID, now: gateway.clock.now().timeIntervalSince1970) else { return }
        guard try await messaging.isMember(conversationID, user: user) else { throw ParleyError.notMemberOf(conversationID) }
        let text = FrameCodec.encode("typing", [
            "conversation_id": .string(conversationID), "user_id": .string(user.rawValue), "state": .string(state),
        ])
        let members = try await messaging.memberIDs(conversationID)
        for member in members where member != user {
            gateway.hub.deliver(to: member, .ephemeral(text), userSeq: nil)
        }
        // Members connected to other nodes.
        gateway.relay.typing(conversationID, user: user, state: state, members: members)
    }

    func presence(_ frame: FrameCodec.ClientFrame, subscribe: Bool) throws {
        try frame.only(["users"])
        var users: [UserID] = []
        for raw in try frame.stringArray("users") { users.append(try UserID(validating: raw)) }
        if subscribe {
            guard session.watch(users, limit: gateway.settings.maxPresenceSubscriptions) else {
                throw ParleyError.invalidField("users", "at most \(gateway.settings.maxPresenceSubscriptions) watched users per connection")
            }
            gateway.hub.watch(users, from: session)
        } else {
            session.unwatch(users)
            gateway.hub.unwatch(users, from: session)
        }
        ack(frame, ["users": .array(users.map { .string($0.rawValue) })])
    }
}

extension ParleyError {
    static func notMemberOf(_ conversationID: String) -> ParleyError {
        ParleyError(.forbidden, code: "messaging.not_member", message: "You are not a member of this conversation.",
                    details: ["conversation_id": .string(conversationID)])
    }
}
