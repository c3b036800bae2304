import Events
import Foundation
import Notifications
import ParleyCore
import SQLKit

/// Tells users when a moderator (or the strike rule) mutes, suspends or bans them: an in-app notification
/// from the `parley.sanction` template in the mandatory `account` category, so it cannot be turned off.
///
/// The consumer only enqueues a job in its own transaction (the trigger writes in a transaction of its own,
/// which SQLite's single writer could not open from inside the consumer's); the job triggers with an
/// idempotency key per sanction, so a replayed event or a retried job notifies once.
struct SanctionNotices: EventConsumer {
    static let jobKind = "moderation.sanction_notice"
    let name = "moderation.notices"
    let types: Set<String>? = ["moderation.muted", "moderation.suspended", "moderation.banned"]
    let jobs: JobQueue

    func handle(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws {
        let newJobs = events.compactMap { event -> NewJob? in
            guard let sanction = event.payload["sanction_id"]?.stringValue, event.payload["user_id"]?.stringValue != nil else { return nil }
            return NewJob(kind: Self.jobKind, payload: event.payload, uniqueKey: "sanction-notice:\(sanction)")
        }
        if !newJobs.isEmpty { _ = try await jobs.enqueue(newJobs, on: sql) }
    }
}

struct SanctionNoticeHandler: JobHandler {
    let kind = SanctionNotices.jobKind
    let timeout: TimeInterval = 60
    let notifications: NotificationService

    func run(_ job: Job) async throws {
        guard let user = job.payload["user_id"]?.stringValue, let sanction = job.payload["sanction_id"]?.stringValue else {
            throw PermanentJobFailure("a malformed sanction notice")
        }
        let status = switch job.payload["kind"]?.stringValue {
        case "mute": job.payload["conversation_id"]?.stringValue == nil ? "muted" : "muted in one conversation"
        case "suspend": "suspended"
        default: "banned"
        }
        let until = job.payload["until"]?.stringValue.map { "until \($0)" } ?? "until further notice"
        let request = TriggerRequest(
            templateKey: "parley.sanction", recipients: .users([UserID(trusted: user)]),
            data: ["status": .string(status), "until_text": .string(until), "reason": job.payload["reason"] ?? "",
                   "sanction_id": .string(sanction)],
            category: "account", priority: .high
        )
        do {
            _ = try await notifications.trigger(request, actor: "system", idempotencyKey: "sanction-notice:\(sanction)")
        } catch let error as ParleyError where error.kind == .notFound || error.kind == .unprocessable {
            // An admin deleted or broke the template: retrying cannot help.
            throw PermanentJobFailure(error.description)
        }
    }
}
