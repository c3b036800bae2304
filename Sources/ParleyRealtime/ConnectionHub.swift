import Foundation
import ParleyCore
import Synchronization

/// Which users have live connections on this node, and the way frames reach them.
///
/// The hub is routing state only, never a source of truth: a connection that misses a frame recovers
/// it from the feed on its next resume. Presence counts this node's connections and, with several nodes on one
/// PostgreSQL, the other nodes' users as `SignalRelay` reports them.
final class ConnectionHub: Sendable {
    private struct State {
        /// Every open connection, including those that have not said hello yet (to say goaway to them all).
        var open: [String: Session] = [:]
        var byUser: [UserID: [String: Session]] = [:]
        /// Watched user → sessions watching them (presence subscriptions).
        var watchers: [UserID: [String: Session]] = [:]
        var lastSeen: [UserID: Date] = [:]
        /// Users who came online or went offline since the presence beacon last published (true = online).
        var presenceChanges: [UserID: Bool] = [:]
        /// The same, for the signal relay (kept only once it runs).
        var relayedChanges: [UserID: Bool] = [:]
        var relaying = false
        /// Users connected to other nodes, by node, and when each node was last heard from.
        var remote: [String: Set<UserID>] = [:]
        var remoteCount: [UserID: Int] = [:]
        var heardAt: [String: Date] = [:]

        func isOnline(_ user: UserID) -> Bool {
            !(byUser[user]?.isEmpty ?? true) || (remoteCount[user] ?? 0) > 0
        }

        mutating func localChange(_ user: UserID, online: Bool) {
            presenceChanges[user] = online
            if relaying { relayedChanges[user] = online }
        }
    }

    private let state = Mutex(State())
    private let clock: any WallClock
    /// This node's random identity: its rows in the presence tables and its name to the other nodes' relays.
    let nodeID: String
    /// The deepest any connection's outbound queue has been: evidence that memory per connection stays bounded.
    private let deepestQueue = Atomic<Int>(0)

    init(clock: any WallClock) {
        self.clock = clock
        var generator = SystemRandomNumberGenerator()
        nodeID = "node_" + String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 36)
    }

    var connectionCount: Int { state.withLock { $0.byUser.values.reduce(0) { $0 + $1.count } } }
    var onlineUserCount: Int { state.withLock { $0.byUser.count } }

    /// Records an open connection (before `hello`; `attach` makes it reachable for its user).
    func register(_ session: Session) {
        state.withLock { $0.open[session.id] = session }
    }

    func attach(_ session: Session) {
        let (cameOnline, watchers) = state.withLock { state -> (Bool, [Session]) in
            // A connection that closed while saying hello has already been detached: it must not come back.
            guard !session.isClosed else { return (false, []) }
            let wasHere = !(state.byUser[session.user]?.isEmpty ?? true)
            let wasOnline = state.isOnline(session.user)
            state.byUser[session.user, default: [:]][session.id] = session
            if !wasHere { state.localChange(session.user, online: true) }
            return (!wasOnline, Array(state.watchers[session.user]?.values ?? [:].values))
        }
        if cameOnline { announce(session.user, online: true, to: watchers) }
    }

    var deepestOutboundQueue: Int { deepestQueue.load(ordering: .relaxed) }

    func detach(_ session: Session) {
        let now = clock.now()
        deepestQueue.max(session.queue.highWater, ordering: .relaxed)
        let (wentOffline, watchers) = state.withLock { state -> (Bool, [Session]) in
            state.open.removeValue(forKey: session.id)
            guard state.byUser[session.user]?.removeValue(forKey: session.id) != nil else { return (false, []) }
            for watched in session.watchedUsers { state.watchers[watched]?.removeValue(forKey: session.id) }
            guard state.byUser[session.user]?.isEmpty ?? false else { return (false, []) }
            state.byUser.removeValue(forKey: session.user)
            state.localChange(session.user, online: false)
            state.lastSeen[session.user] = now
            if state.lastSeen.count > 100_000 { state.lastSeen.removeAll() }
            // Still connected to another node: online for its watchers.
            guard !state.isOnline(session.user) else { return (false, []) }
            return (true, Array(state.watchers[session.user]?.values ?? [:].values))
        }
        if wentOffline { announce(session.user, online: false, to: watchers) }
    }

    /// Takes the presence changes since the last call (the beacon publishes them).
    func takePresenceChanges() -> [UserID: Bool] {
        state.withLock { state in
            defer { state.presenceChanges.removeAll(keepingCapacity: true) }
            return state.presenceChanges
        }
    }

    /// Starts keeping presence changes for `takeRelayedPresenceChanges` (the signal relay runs).
    func startRelayingPresence() {
        state.withLock { $0.relaying = true }
    }

    /// Takes the presence changes of this node since the last call (the signal relay publishes them).
    func takeRelayedPresenceChanges() -> [UserID: Bool] {
        state.withLock { state in
            defer { state.relayedChanges.removeAll(keepingCapacity: true) }
            return state.relayedChanges
        }
    }

    /// Another node's users came online or went offline there (`replacing`: its full list, everyone else is gone
    /// from it); watchers here hear of those whose presence anywhere changed.
    func remotePresence(node: String, online: [UserID], offline: [UserID], replacing: Bool) {
        let now = clock.now()
        let announcements = state.withLock { state -> [(UserID, Bool, [Session])] in
            let known = state.remote[node] ?? []
            let gone = replacing ? known.subtracting(online) : known.intersection(offline)
            var changed: [(UserID, Bool, [Session])] = []
            for user in gone {
                let wasOnline = state.isOnline(user)
                state.remote[node]?.remove(user)
                let count = (state.remoteCount[user] ?? 1) - 1
                state.remoteCount[user] = count > 0 ? count : nil
                if wasOnline, !state.isOnline(user) {
                    state.lastSeen[user] = now
                    changed.append((user, false, Array(state.watchers[user]?.values ?? [:].values)))
                }
            }
            for user in online where !(state.remote[node]?.contains(user) ?? false) {
                let wasOnline = state.isOnline(user)
                state.remote[node, default: []].insert(user)
                state.remoteCount[user, default: 0] += 1
                if !wasOnline { changed.append((user, true, Array(state.watchers[user]?.values ?? [:].values))) }
            }
            if state.remote[node]?.isEmpty ?? false { state.remote.removeValue(forKey: node) }
            return changed
        }
        for (user, online, watchers) in announcements { announce(user, online: online, to: watchers) }
    }

    /// Notes that `node` was heard from (any message counts as its heartbeat).
    func heard(node: String, at date: Date) {
        state.withLock { $0.heardAt[node] = date }
    }

    /// A node said goodbye: its users are no longer online there.
    func forget(node: String) {
        let users = state.withLock { state -> [UserID] in
            state.heardAt.removeValue(forKey: node)
            return Array(state.remote[node] ?? [])
        }
        remotePresence(node: node, online: [], offline: users, replacing: false)
    }

    /// Forgets nodes not heard from since `date` (stopped without saying goodbye).
    func forgetNodes(silentSince date: Date) {
        let silent = state.withLock { state in state.heardAt.filter { $0.value < date }.map(\.key) }
        for node in silent { forget(node: node) }
    }

    /// Every user online on this node (the beacon republishes them all after a failed write).
    var onlineUsers: [UserID] { state.withLock { Array($0.byUser.keys) } }

    func sessions(of user: UserID) -> [Session] {
        state.withLock { Array($0.byUser[user]?.values ?? [:].values) }
    }

    func isConnected(_ user: UserID) -> Bool {
        state.withLock { !($0.byUser[user]?.isEmpty ?? true) }
    }

    func deliver(to user: UserID, _ frame: OutboundQueue.Frame, userSeq: Int64?, except: String? = nil, wakes: WriterWakes? = nil) {
        for session in sessions(of: user) where session.id != except {
            session.deliver(frame, userSeq: userSeq, wakes: wakes)
        }
    }

    /// Subscribes a session to the presence of `users` and sends their current state.
    func watch(_ users: [UserID], from session: Session) {
        let snapshot = state.withLock { state -> [(UserID, Bool, Date?)] in
            for user in users { state.watchers[user, default: [:]][session.id] = session }
            return users.map { ($0, state.isOnline($0), state.lastSeen[$0]) }
        }
        for (user, online, lastSeen) in snapshot {
            session.deliver(.ephemeral(Self.presenceFrame(user, online: online, lastSeen: lastSeen)), userSeq: nil)
        }
    }

    func unwatch(_ users: [UserID], from session: Session) {
        state.withLock { state in
            for user in users { state.watchers[user]?.removeValue(forKey: session.id) }
        }
    }

    private func announce(_ user: UserID, online: Bool, to watchers: [Session]) {
        let frame = Self.presenceFrame(user, online: online, lastSeen: online ? nil : clock.now())
        for watcher in watchers { watcher.deliver(.ephemeral(frame), userSeq: nil) }
    }

    static func presenceFrame(_ user: UserID, online: Bool, lastSeen: Date?) -> String {
        FrameCodec.encode("presence", [
            "user_id": .string(user.rawValue), "online": .bool(online),
            "last_seen": lastSeen.map { .string(Timestamp.format($0)) } ?? .null,
        ])
    }

    /// Tells every connection to go away and reconnect after a jittered delay, then closes them gracefully.
    func goAway(maxDelayMilliseconds: Int = 5000) {
        let all = state.withLock { state in Array(state.open.values) }
        for session in all {
            session.reply(FrameCodec.encode("goaway", ["reconnect_after_ms": .int(Int.random(in: 250...max(250, maxDelayMilliseconds)))]))
            session.finish()
        }
    }
}
