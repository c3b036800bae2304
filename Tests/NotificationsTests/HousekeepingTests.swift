import Foundation
import Notifications
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Testing

/// The hourly clean-up of rows that only ever answer "was this seen recently": what is past its window goes,
/// what is within it stays.
@Suite struct HousekeepingTests {
    static let day: TimeInterval = 86_400

    @Test(arguments: TestDatabases.engines)
    func keysAndMarksPastTheirWindowsGoAndRecentOnesStay(engine: DatabaseEngine) async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 100 * Self.day))
        try await NotificationsFixture.run(engine, clock: clock) { fx in
            let now = clock.now().unixMilliseconds
            let hour: Int64 = 3_600_000
            let sql = fx.database.sql
            // Idempotency keys: the window is a day.
            for (key, age) in [("old", 25 * hour), ("recent", 23 * hour)] {
                try await sql.raw("""
                    INSERT INTO notifications_idempotency (scope, idempotency_key, request_hash, created_at)
                    VALUES ('api', \(bind: key), 'h', \(bind: now - age))
                    """).run()
            }
            // Dedup keys: until their own expiry.
            for (key, expiry) in [("expired", now - 1), ("live", now + hour)] {
                try await sql.raw("""
                    INSERT INTO notifications_dedup (dedup_key, notification_id, expires_at) VALUES (\(bind: key), 'n_1', \(bind: expiry))
                    """).run()
            }
            // Automatic-push marks: 30 days without a touch.
            for (conversation, age) in [("c_stale", 31 * 24 * hour), ("c_fresh", 29 * 24 * hour)] {
                try await sql.raw("""
                    INSERT INTO notifications_auto_push (user_id, conversation_id, pushed_seq, updated_at)
                    VALUES ('u1', \(bind: conversation), 7, \(bind: now - age))
                    """).run()
            }
            let removed = try await fx.service.cleanUp()
            #expect(removed.idempotencyKeys == 1)
            #expect(removed.dedupKeys == 1)
            #expect(removed.autoPushMarks == 1)
            let keys = try await sql.raw("SELECT idempotency_key FROM notifications_idempotency").all()
                .map { try $0.decode(column: "idempotency_key", as: String.self) }
            #expect(keys == ["recent"])
            let dedup = try await sql.raw("SELECT dedup_key FROM notifications_dedup").all().map { try $0.decode(column: "dedup_key", as: String.self) }
            #expect(dedup == ["live"])
            let marks = try await sql.raw("SELECT conversation_id FROM notifications_auto_push").all()
                .map { try $0.decode(column: "conversation_id", as: String.self) }
            #expect(marks == ["c_fresh"])
            // Nothing left to do: a second pass removes nothing.
            let again = try await fx.service.cleanUp()
            #expect(again.idempotencyKeys == 0 && again.dedupKeys == 0 && again.autoPushMarks == 0)
        }
    }

    /// The marks are found through their age index (SQLite's plan), not by reading the table in the write transaction.
    @Test func staleAutomaticPushMarksAreFoundThroughAnIndex() async throws {
        try await NotificationsFixture.run(.sqlite) { fx in
            let plan = try await fx.database.sql.raw("""
                EXPLAIN QUERY PLAN SELECT user_id, conversation_id FROM notifications_auto_push WHERE updated_at < 1 LIMIT 5000
                """).all().map { try $0.decode(column: "detail", as: String.self) }
            #expect(plan.contains { $0.contains("notifications_auto_push_by_age") }, "plan: \(plan)")
        }
    }
}
