import Foundation
import Logging
import Messaging
import ParleyCore
import ParleyStorage
import ServiceLifecycle
import Synchronization

/// Carries the ephemeral signals (typing, presence) between the Parley nodes of one PostgreSQL database, so a user
/// connected to one node sees another's typing and presence on any other. Nothing of it is stored: the signals go
/// through PostgreSQL's NOTIFY (`Database.publish`) on one channel, and a node that misses some (a dropped LISTEN)
/// recovers presence by asking every node for its full list again. On SQLite (one process) it does nothing.
///
/// Presence across nodes: each node announces which of its users came online or went offline on it (batched every
/// `flushInterval`), beats every `heartbeatInterval`, and says goodbye when it stops. Every node keeps, per user,
/// the other nodes that user is connected to (`ConnectionHub.remote`), and forgets a node it has not heard for
/// `staleAfter` (a node that died without saying goodbye), so its users go offline.
public final class SignalRelay: Service, Sendable {
    static let channel = "parley_signals"
    /// NOTIFY payloads are limited to 8,000 bytes; lists longer than this are split.
    static let maxPayloadBytes = 7_000

    let nodeID: String
    let hub: ConnectionHub
    let database: Database
    let messaging: MessagingService
    let logger: Logger
    let flushInterval: Duration
    let heartbeatInterval: Duration
    let staleAfter: TimeInterval
    private let listening = Atomic<Bool>(false)

    init(hub: ConnectionHub, database: Database, messaging: MessagingService, logger: Logger,
         flushInterval: Duration = .milliseconds(100), heartbeatInterval: Duration = .seconds(10), staleAfter: TimeInterval = 45) {
        nodeID = hub.nodeID
        self.hub = hub
        self.database = database
        self.messaging = messaging
        self.logger = logger
        self.flushInterval = flushInterval
        self.heartbeatInterval = heartbeatInterval
        self.staleAfter = staleAfter
    }

    var isActive: Bool { database.isShared }

    /// Whether it has started listening to the other nodes (tests wait for it).
    public var isListening: Bool { listening.load(ordering: .relaxed) }

    // MARK: Sending

    /// Tells the other nodes that `user` is typing (or stopped) in a conversation whose members are `members`.
    func typing(_ conversationID: String, user: UserID, state: String, members: [UserID]) {
        guard isActive else { return }
        var message: [String: JSONValue] = [
            "n": .string(nodeID), "k": "typing", "c": .string(conversationID), "u": .string(user.rawValue), "s": .string(state),
        ]
        // Large groups: the receivers read the members themselves rather than overflow the payload.
        let listBytes = members.reduce(0) { $0 + $1.rawValue.utf8.count + 3 }
        if listBytes < Self.maxPayloadBytes - 300 { message["m"] = .array(members.map { .string($0.rawValue) }) }
        send(.object(message))
    }

    private func send(_ message: JSONValue) {
        guard let payload = try? message.jsonText() else { return }
        Task {
            do {
                try await database.publish(Self.channel, payload: payload)
            } catch {
                logger.debug("signal relay publish failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The users of a presence message, split so no payload is too large.
    private func sendPresence(online: [UserID], offline: [UserID], all: Bool = false) async throws {
        var batches: [([UserID], [UserID])] = []
        var current: ([UserID], [UserID]) = ([], [])
        var size = 0
        for (user, isOnline) in online.map({ ($0, true) }) + offline.map({ ($0, false) }) {
            if size + user.rawValue.utf8.count + 3 > Self.maxPayloadBytes {
                batches.append(current)
                current = ([], [])
                size = 0
            }
            if isOnline { current.0.append(user) } else { current.1.append(user) }
            size += user.rawValue.utf8.count + 3
        }
        batches.append(current)
        var payloads: [String] = []
        for (index, batch) in batches.enumerated() {
            var message: [String: JSONValue] = [
                "n": .string(nodeID), "k": "presence",
                "on": .array(batch.0.map { .string($0.rawValue) }), "off": .array(batch.1.map { .string($0.rawValue) }),
            ]
            // A full list replaces what the others knew of this node; only its first part does, or the parts would
            // replace each other (they arrive together and in order: one transaction).
            if all && index == 0 { message["all"] = true }
            payloads.append(try JSONValue.object(message).jsonText())
        }
        try await database.publish(Self.channel, payloads: payloads)
    }

    // MARK: Running

    public func run() async throws {
        guard isActive else {
            await cancelWhenGracefulShutdown { await waitUntilCancelled() }
            return
        }
        hub.startRelayingPresence()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self.database.listenPayloads(Self.channel, logger: self.logger, onListening: {
                        // (Re)started listening: anything missed meanwhile is recovered by asking for everyone's list.
                        self.listening.store(true, ordering: .relaxed)
                        self.send(.object(["n": .string(self.nodeID), "k": "sync"]))
                    }, onPayload: { payload in self.receive(payload) })
                }
                group.addTask { await self.flushLoop() }
                await group.next()
                group.cancelAll()
            }
        }
        // Leaving: the others take this node's users offline now rather than after `staleAfter` (from a task of its
        // own: this one is cancelled, and a query from it would be refused).
        let bye = (try? JSONValue.object(["n": .string(nodeID), "k": "bye"]).jsonText()) ?? ""
        await Task { [database] in try? await database.publish(Self.channel, payload: bye) }.value
    }

    /// Publishes this node's presence changes every `flushInterval`, beats every `heartbeatInterval`, and forgets
    /// nodes that stopped beating.
    private func flushLoop() async {
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: flushInterval)
            if Task.isCancelled { break }
            let changes = hub.takeRelayedPresenceChanges()
            do {
                if !changes.isEmpty {
                    try await sendPresence(online: changes.filter(\.value).map(\.key), offline: changes.filter { !$0.value }.map(\.key))
                }
                if ContinuousClock.now - lastBeat >= heartbeatInterval {
                    lastBeat = ContinuousClock.now
                    try await database.publish(Self.channel, payload: JSONValue.object(["n": .string(nodeID), "k": "beat"]).jsonText())
                    hub.forgetNodes(silentSince: Date().addingTimeInterval(-staleAfter))
                }
            } catch {
                // Lost changes: the others would keep a stale view, so send the whole list again.
                logger.warning("signal relay publish failed", metadata: ["error": "\(error)"])
                try? await sendPresence(online: hub.onlineUsers, offline: [], all: true)
            }
        }
    }

    // MARK: Receiving

    private func receive(_ payload: String) {
        guard case .object(let message)? = try? JSONValue(parsing: payload), let node = message["n"]?.stringValue,
              node != nodeID, let kind = message["k"]?.stringValue else { return }
        hub.heard(node: node, at: Date())
        switch kind {
        case "typing":
            guard let conversationID = message["c"]?.stringValue, let user = message["u"]?.stringValue.flatMap({ try? UserID(validating: $0) }),
                  let state = message["s"]?.stringValue else { return }
            let members = message["m"].map(Self.users)
            Task { await deliverTyping(conversationID, user: user, state: state, members: members) }
        case "presence":
            let online = message["on"].map(Self.users) ?? []
            let offline = message["off"].map(Self.users) ?? []
            hub.remotePresence(node: node, online: online, offline: offline, replacing: message["all"] == true)
        case "sync":
            // A node (re)started listening: tell it who is here.
            let users = hub.onlineUsers
            Task { try? await sendPresence(online: users, offline: [], all: true) }
        case "bye":
            hub.forget(node: node)
        default:
            break
        }
    }

    private static func users(_ list: JSONValue) -> [UserID] {
        guard case .array(let values) = list else { return [] }
        return values.compactMap { $0.stringValue.flatMap { try? UserID(validating: $0) } }
    }

    private func deliverTyping(_ conversationID: String, user: UserID, state: String, members: [UserID]?) async {
        let text = FrameCodec.encode("typing", [
            "conversation_id": .string(conversationID), "user_id": .string(user.rawValue), "state": .string(state),
        ])
        var recipients = members
        if recipients == nil { recipients = try? await messaging.memberIDs(conversationID) }
        for member in recipients ?? [] where member != user {
            hub.deliver(to: member, .ephemeral(text), userSeq: nil)
        }
    }
}
