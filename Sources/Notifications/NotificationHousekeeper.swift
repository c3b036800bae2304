import Foundation
import Logging
import ParleyCore
import ServiceLifecycle
import SQLKit

extension NotificationService {
    /// What one housekeeping pass removed.
    public struct Housekeeping: Sendable, Equatable {
        public var idempotencyKeys = 0
        public var dedupKeys = 0
        public var autoPushMarks = 0
    }

    /// Deletes idempotency keys past their window, dedup keys past their expiry and automatic-push marks not
    /// touched for 30 days. Each of these only ever answers "was this seen recently", so old rows are dead
    /// weight. Deletes in batches so a large backlog never holds the writer for long.
    public func cleanUp() async throws -> Housekeeping {
        let now = clock.now()
        var result = Housekeeping()
        let idempotencyCutoff = now.addingTimeInterval(-settings.idempotencyWindow).unixMilliseconds
        result.idempotencyKeys = try await database.deleteInBatches("""
            DELETE FROM notifications_idempotency WHERE (scope, idempotency_key) IN (
                SELECT scope, idempotency_key FROM notifications_idempotency WHERE created_at < \(bind: idempotencyCutoff) LIMIT 5000)
            """, batch: 5000)
        result.dedupKeys = try await database.deleteInBatches("""
            DELETE FROM notifications_dedup WHERE dedup_key IN (
                SELECT dedup_key FROM notifications_dedup WHERE expires_at <= \(bind: now.unixMilliseconds) LIMIT 5000)
            """, batch: 5000)
        let markCutoff = now.addingTimeInterval(-30 * 86_400).unixMilliseconds
        result.autoPushMarks = try await database.deleteInBatches("""
            DELETE FROM notifications_auto_push WHERE (user_id, conversation_id) IN (
                SELECT user_id, conversation_id FROM notifications_auto_push WHERE updated_at < \(bind: markCutoff) LIMIT 5000)
            """, batch: 5000)
        return result
    }
}

/// Runs `NotificationService.cleanUp()` once an hour (any node may; the deletes are idempotent).
public struct NotificationHousekeeper: Service {
    let notifications: NotificationService
    let logger: Logger
    let interval: Duration

    public init(notifications: NotificationService, logger: Logger, interval: Duration = .seconds(3600)) {
        self.notifications = notifications
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await notifications.cleanUp()
                    if removed != NotificationService.Housekeeping() {
                        logger.info("notification housekeeping", metadata: [
                            "idempotency_keys": .stringConvertible(removed.idempotencyKeys), "dedup_keys": .stringConvertible(removed.dedupKeys),
                            "auto_push_marks": .stringConvertible(removed.autoPushMarks),
                        ])
                    }
                } catch {
                    logger.warning("notification housekeeping failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
