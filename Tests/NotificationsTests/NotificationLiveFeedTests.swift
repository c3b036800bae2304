import Events
import Foundation
import Logging
import Notifications
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization
import Testing

/// A pusher that says which users are connected and records what it was asked to push.
final class RecordingPusher: NotificationPusher {
    let connected: Set<UserID>
    let pushed = Mutex<[(UserID, NotificationFrame)]>([])

    init(connected: Set<UserID>) { self.connected = connected }

    func connectedUsers(among users: [UserID]) -> Set<UserID> { connected.intersection(users) }
    func push(_ frame: NotificationFrame, to user: UserID) { pushed.withLock { $0.append((user, frame)) } }
}

@Suite struct NotificationLiveFeedTests {
    @Test(arguments: TestDatabases.engines)
    func deliveredEntriesAndBadgeChangesReachOnlyConnectedUsers(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            let pusher = RecordingPusher(connected: [.u(1)])
            let feed = NotificationLiveFeed(service: f.service, events: f.events, pusher: pusher, database: f.database,
                                            logger: TestDatabases.logger)
            let result = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1), .u(2)]),
                                                                    data: ["name": "A", "place": "P"]), actor: "key:k")
            _ = try await f.service.mark(result.id, as: .read, user: .u(1))
            for event in try await f.events.read(after: 0, limit: 100) { await feed.handle(event) }
            let frames = pusher.pushed.withLock { $0 }
            #expect(frames.allSatisfy { $0.0 == .u(1) })
            guard frames.count == 3, case .notification(let entry) = frames[0].1, case .badge(let before) = frames[1].1,
                  case .badge(let after) = frames[2].1 else {
                Issue.record("unexpected frames \(frames)")
                return
            }
            #expect(entry.notificationID == result.id)
            #expect(entry.title == "Hello A")
            // Both badges are computed when the feed handles the events (after the read), so both show it read.
            #expect(before.total == 1 && after.unread == 0)
        }
    }

    /// The feed reads the log when notification events are committed, not after every commit: with a one-minute poll,
    /// 100 commits of other events leave it idle, and a delivered notification still reaches the user at once.
    @Test(arguments: TestDatabases.engines)
    func theFeedWakesForNotificationEventsNotForEveryCommit(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            let pusher = RecordingPusher(connected: [.u(1)])
            let feed = NotificationLiveFeed(service: f.service, events: f.events, pusher: pusher, database: f.database,
                                            logger: TestDatabases.logger, pollInterval: .seconds(60))
            let running = Task { await feed.run() }
            defer { running.cancel() }
            #expect(try await eventually(within: 30) { feed.logReads >= 1 })
            try await Task.sleep(for: .milliseconds(200))
            let readsBefore = feed.logReads
            for n in 0..<100 {
                try await f.database.transaction { sql in
                    try await f.events.append([NewEvent(type: "test.other", actor: "test", subject: "s", payload: ["n": .int(n)], occurredAt: Date())],
                                              on: sql)
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            // On PostgreSQL every event-writing commit of any node wakes it (NOTIFY); on SQLite only its own types do.
            if engine == .sqlite { #expect(feed.logReads - readsBefore <= 1, "read the log \(feed.logReads - readsBefore) times") }

            _ = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]),
                                                           data: ["name": "A", "place": "P"]), actor: "key:k")
            #expect(try await eventually(within: 30) {
                pusher.pushed.withLock { frames in frames.contains { if case .notification = $0.1 { true } else { false } } }
            })
            running.cancel()
            await running.value
        }
    }
}
