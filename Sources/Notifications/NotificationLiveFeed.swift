import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import Synchronization

/// Pushes new inbox entries and badge changes to the live connections of this node, read from the event
/// log (never from the request or job that made them), so a notification delivered by a worker on another
/// node still reaches a client connected here.
///
/// Run one per node that serves connections (`run()` returns when its task is cancelled). It starts at the
/// log's head: clients that were away read their inbox (or resume their SSE stream) instead.
public final class NotificationLiveFeed: Sendable {
    public static let eventTypes: Set<String> = ["notification.delivered", "notification.resurfaced", "notification.inbox_changed"]

    let service: NotificationService
    let events: EventLog
    let pusher: any NotificationPusher
    let database: Database
    let logger: Logger
    let pollInterval: Duration
    private let windowsRead = Atomic<Int>(0)

    /// How many times the feed has read the log, for tests.
    public var logReads: Int { windowsRead.load(ordering: .relaxed) }

    public init(service: NotificationService, events: EventLog, pusher: any NotificationPusher, database: Database, logger: Logger,
                pollInterval: Duration = .milliseconds(250)) {
        self.service = service
        self.events = events
        self.pusher = pusher
        self.database = database
        self.logger = logger
        self.pollInterval = pollInterval
    }

    public func run() async {
        let start: Int64
        do {
            start = try await events.headPosition()
        } catch {
            logger.warning("notification live feed cannot read the log head", metadata: ["error": "\(error)"])
            start = 0
        }
        // Woken when this process commits events of its types (not on every commit: it read the log after each
        // message sent), and on PostgreSQL by every event-writing commit of any node; it also polls.
        let wakeups = ChangeSignal()
        await withTaskGroup(of: Void.self) { group in
            for type in Self.eventTypes {
                group.addTask { await self.database.signal(EventLog.typeChannel(type)).forEachChange { wakeups.notify() } }
            }
            if database.engine == .postgres {
                group.addTask { await self.database.listen(EventLog.notifyChannel, logger: self.logger) { wakeups.notify() } }
            }
            group.addTask {
                var position = start
                while !Task.isCancelled {
                    let generation = wakeups.generation
                    do {
                        let window = try await self.events.window(after: position, limit: 500, decoding: Self.eventTypes)
                        self.windowsRead.add(1, ordering: .relaxed)
                        for event in window.events { await self.handle(event) }
                        if let end = window.end { position = end }
                        if window.count == 500 { continue }
                    } catch {
                        self.logger.warning("notification live feed could not read the event log", metadata: ["error": "\(error)"])
                    }
                    await wakeups.wait(since: generation, timeout: self.pollInterval)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Pushes what one event means to the users connected here.
    public func handle(_ event: EventEnvelope) async {
        guard Self.eventTypes.contains(event.type) else { return }
        do {
            switch event.type {
            case "notification.delivered", "notification.resurfaced":
                guard let id = event.payload["notification_id"]?.stringValue, case .array(let list)? = event.payload["user_ids"] else { return }
                let users = list.compactMap(\.stringValue).map(UserID.init(trusted:))
                for user in pusher.connectedUsers(among: users).sorted() {
                    pusher.push(.notification(try await service.inboxEntry(of: user, notificationID: id)), to: user)
                    pusher.push(.badge(try await service.counts(of: user)), to: user)
                }
            default:
                guard let raw = event.payload["user_id"]?.stringValue else { return }
                let user = UserID(trusted: raw)
                guard !pusher.connectedUsers(among: [user]).isEmpty else { return }
                pusher.push(.badge(try await service.counts(of: user)), to: user)
            }
        } catch {
            logger.warning("notification live push failed for one event", metadata: ["event": "\(event.id)", "error": "\(error)"])
        }
    }
}
