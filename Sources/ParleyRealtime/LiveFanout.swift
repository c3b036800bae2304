import Events
import Foundation
import Logging
import Messaging
import ParleyCore
import ParleyStorage
import ServiceLifecycle

/// Pushes committed changes to live connections, reading them from the event log, never from the
/// request that made them: a message acknowledged to its sender is delivered even if that request's
/// task dies right after the commit.
///
/// It starts at the log's head (connections that were away recover through their resume token), wakes
/// when a commit wrote events, and polls as a fallback.
public final class LiveFanout: Service, Sendable {
    let hub: ConnectionHub
    /// Typing and presence to and from the other nodes of a shared database (a Service of its own).
    public let signalRelay: SignalRelay
    let events: EventLog
    let messaging: MessagingService
    let database: Database
    let logger: Logger
    let pollInterval: Duration

    public init(events: EventLog, messaging: MessagingService, database: Database, clock: any WallClock, logger: Logger,
                pollInterval: Duration = .milliseconds(200)) {
        hub = ConnectionHub(clock: clock)
        signalRelay = SignalRelay(hub: hub, database: database, messaging: messaging, logger: logger)
        self.events = events
        self.messaging = messaging
        self.database = database
        self.logger = logger
        self.pollInterval = pollInterval
    }

    /// Live connections on this node.
    public var connectionCount: Int { hub.connectionCount }
    public var onlineUserCount: Int { hub.onlineUserCount }
    /// The deepest outbound queue of any connection that has closed.
    public var deepestOutboundQueue: Int { hub.deepestOutboundQueue }

    public func run() async throws {
        messaging.fanOutStarted()
        let start = try await events.headPosition()
        // Wake-ups: the notification sent once events became readable (on PostgreSQL by the transaction that placed
        // them, from any node, so items committed through another node reach this node's connections at once, not
        // at the next poll); on PostgreSQL also this node's own commits, which need no round trip through the server.
        let wakeups = ChangeSignal()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self.database.listen(EventLog.notifyChannel, logger: self.logger) { wakeups.notify() }
                }
                if self.database.engine == .postgres {
                    group.addTask { await self.database.commits.forEachChange { wakeups.notify() } }
                }
                group.addTask { await self.tail(from: start, wakeups: wakeups) }
                await group.next()
                group.cancelAll()
            }
        }
        // Shutting down: ask every client to reconnect elsewhere (or later), with jitter against a thundering
        // herd, and give their connections a few seconds to drain before the HTTP server stops.
        hub.goAway()
        let deadline = ContinuousClock.now + .seconds(5)
        while hub.connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Reads the log from `start` and fans every event out, for as long as the task runs.
    func tail(from start: Int64, wakeups: ChangeSignal) async {
        var position = start
        while !Task.isCancelled {
            let generation = wakeups.generation
            do {
                // Without placing pending events first (`EventLog.placePending`): a placer (this node's, or the
                // sending node's) does that and wakes us, so placing here would only add a round trip per wake-up to
                // every message that crosses nodes.
                let batch = try await events.read(after: position, limit: 500, on: database.sql)
                // The batch's items are read together (two reads per conversation, not two per item), then
                // delivered in the log's order, so every user's frames still leave in feed order.
                let items = await prefetchItems(of: batch)
                // Writers are woken every 64 events rather than per frame: fewer hops, and frames for one
                // connection leave in one write.
                let wakes = WriterWakes()
                // Whatever happens to this pass, queued frames must not wait for a wake-up that never comes.
                defer { wakes.wakeAll() }
                for (index, event) in batch.enumerated() {
                    await fanOut(event, items: items, wakes: wakes)
                    position = event.position
                    if index % 64 == 63 { wakes.wakeAll() }
                }
                if batch.count == 500 { continue }
            } catch {
                if Task.isCancelled { return }
                logger.warning("live fan-out could not read the event log", metadata: ["error": "\(error)"])
            }
            await wakeups.wait(since: generation, timeout: pollInterval)
        }
    }

    /// The items the batch's item events name, read together; empty if that read fails (each item is then
    /// read on its own).
    func prefetchItems(of batch: [EventEnvelope]) async -> [ItemPosition: ItemForFanOut] {
        var positions: [ItemPosition] = []
        var ids: [ItemPosition: String] = [:]
        for event in batch {
            guard case .string("item")? = event.payload["fanout"], case .string(let conversationID)? = event.payload["conversation_id"],
                  case .int(let seq)? = event.payload["seq"] else { continue }
            let position = ItemPosition(conversationID: conversationID, seq: Int64(seq))
            positions.append(position)
            if case .string(let id)? = event.payload["item_id"] { ids[position] = id }
        }
        guard !positions.isEmpty else { return [:] }
        do {
            return try await messaging.itemsForFanOut(positions, ids: ids)
        } catch {
            logger.warning("live fan-out could not read a batch of items; reading them one by one", metadata: ["error": "\(error)"])
            return [:]
        }
    }

    func fanOut(_ event: EventEnvelope, items: [ItemPosition: ItemForFanOut] = [:], wakes: WriterWakes) async {
        if event.type == "moderation.suspended" || event.type == "moderation.banned", let user = event.payload["user_id"]?.stringValue {
            disconnect(UserID(trusted: user), because: event)
            return
        }
        guard case .string(let kind)? = event.payload["fanout"], case .string(let conversationID)? = event.payload["conversation_id"] else {
            return
        }
        do {
            switch kind {
            case "item":
                guard case .int(let seq)? = event.payload["seq"] else { return }
                let position = ItemPosition(conversationID: conversationID, seq: Int64(seq))
                if let item = items[position] {
                    deliver(item, wakes: wakes)
                } else if let item = try await messaging.itemsForFanOut([position])[position] {
                    // Read on its own: the batch's read failed.
                    deliver(item, wakes: wakes)
                }
            case "read":
                guard case .int(let readSeq)? = event.payload["read_seq"], case .string(let reader)? = event.payload["user_id"] else { return }
                try await fanOutRead(conversationID, reader: UserID(trusted: reader), readSeq: Int64(readSeq), wakes: wakes)
            default:
                return
            }
        } catch {
            logger.warning("live fan-out failed for one event", metadata: ["event": "\(event.id)", "error": "\(error)"])
        }
    }

    /// A suspended or banned user's connections end now: their token is refused from here on (the
    /// authenticator asks Moderation), so they cannot come back until the sanction ends or is lifted.
    func disconnect(_ user: UserID, because event: EventEnvelope) {
        let kind = event.type == "moderation.banned" ? "banned" : "suspended"
        let frame = FrameCodec.encode("error", [
            "code": .string("moderation.\(kind)"), "message": .string("Your account is \(kind)."),
            "until": event.payload["until"] ?? .null, "fatal": .bool(true),
        ])
        for session in hub.sessions(of: user) {
            session.reply(frame)
            session.finish()
        }
    }

    func deliver(_ prefetched: ItemForFanOut, wakes: WriterWakes) {
        let recipients = prefetched.recipients.filter { hub.isConnected($0.user) }
        guard !recipients.isEmpty else { return }
        let frame = ItemFrame(prefetched.item)
        for (user, userSeq) in recipients {
            hub.deliver(to: user, .durable(frame.text(userSeq: userSeq)), userSeq: userSeq, wakes: wakes)
        }
    }

    func fanOutRead(_ conversationID: String, reader: UserID, readSeq: Int64, wakes: WriterWakes) async throws {
        if hub.isConnected(reader), let userSeq = try await messaging.readFeedPosition(conversationID, user: reader, readSeq: readSeq) {
            let feed = FrameCodec.encode("feed", [
                "kind": "read", "conversation_id": .string(conversationID), "seq": .int(Int(readSeq)), "user_seq": .int(Int(userSeq)),
            ])
            hub.deliver(to: reader, .durable(feed), userSeq: userSeq, wakes: wakes)
            let badge = try await messaging.badge(for: reader)
            hub.deliver(to: reader, .ephemeral(FrameCodec.encode("badge", ["badge": .int(badge)])), userSeq: nil, wakes: wakes)
        }
        guard try await messaging.memberCount(conversationID) <= messaging.settings.liveReceiptMaxMembers else { return }
        let receipt = FrameCodec.encode("receipt", [
            "conversation_id": .string(conversationID), "user_id": .string(reader.rawValue), "read_seq": .int(Int(readSeq)),
        ])
        for member in try await messaging.memberIDs(conversationID) where member != reader && hub.isConnected(member) {
            hub.deliver(to: member, .ephemeral(receipt), userSeq: nil, wakes: wakes)
        }
    }
}

extension LiveFanout {
    /// Whether `user` has a live connection on this node.
    public func isConnected(_ user: UserID) -> Bool {
        hub.isConnected(user)
    }

    /// Sends the server frame `{"type": type, ...fields}` to every live connection of `user` on this node,
    /// outside the feed (no `user_seq`): for other contexts' live frames, such as `notification` and its `badge`.
    /// An ephemeral frame is the first dropped under back-pressure.
    public func push(_ type: String, _ fields: [String: JSONValue], to user: UserID, ephemeral: Bool = false) {
        let text = FrameCodec.encode(type, fields)
        hub.deliver(to: user, ephemeral ? .ephemeral(text) : .durable(text), userSeq: nil)
    }
}

extension LiveFanout {
    /// The service that publishes this node's connected users for `SQLPresenceDirectory`.
    public func presenceBeacon(database: Database, clock: any WallClock, logger: Logger) -> PresenceBeacon {
        PresenceBeacon(hub: hub, database: database, clock: clock, logger: logger)
    }
}
