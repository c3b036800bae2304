import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage
import SQLKit

/// Automatic pushes for chat messages: a member with no live connection gets a push for what they have not
/// read, one per conversation however many messages arrive, never for a conversation they muted.
///
/// Two steps. The planner (an event-log consumer, so nothing is missed across restarts) turns each
/// `message.created` into a delayed job per recipient who has a push device; jobs share a unique key per
/// (user, conversation, window), which is what coalesces a burst. When the job runs, it asks again: is the
/// user online now, is anything still unread, was it already pushed, did they turn message pushes off, is
/// it their quiet hours (then it waits until they end). Direct messages and mentions go first (shorter
/// delay, higher job priority) and wake the device; other group messages are sent at normal priority.
public struct AutoPush: Sendable {
    public static let jobKind = "notifications.autopush"
    public static let consumerName = "notifications.autopush"

    let notifications: NotificationService
    let source: any MessagePushSource
    let presence: any PresenceDirectory
    let dispatcher: PushDispatcher
    let devices: PushDeviceRegistry
    public let settings: AutoPushSettings

    public init(notifications: NotificationService, source: any MessagePushSource, presence: any PresenceDirectory,
                dispatcher: PushDispatcher, devices: PushDeviceRegistry, settings: AutoPushSettings = AutoPushSettings()) {
        self.notifications = notifications
        self.source = source
        self.presence = presence
        self.dispatcher = dispatcher
        self.devices = devices
        self.settings = settings
    }

    public var consumer: AutoPushPlanner { AutoPushPlanner(autoPush: self) }
    public var jobHandler: AutoPushHandler { AutoPushHandler(autoPush: self) }

    // MARK: Planning

    static let pushedKinds: Set<String> = ["text", "image", "file", "audio", "video", "location", "custom"]

    /// The push jobs one new message needs (none when nobody offline could get one).
    func plan(_ event: EventEnvelope, on sql: any SQLDatabase) async throws -> [NewJob] {
        // Messages people write; not system notices, edits, reactions or membership changes.
        guard let kind = event.payload["kind"]?.stringValue, Self.pushedKinds.contains(kind) else { return [] }
        guard let conversationID = event.payload["conversation_id"]?.stringValue, case .int(let seq)? = event.payload["seq"],
              let (message, candidates) = try await source.message(conversationID: conversationID, seq: Int64(seq)) else { return [] }
        guard message.conversationType != "broadcast" else { return [] }
        let mentionsAll = message.mentions.contains("@all")
        let direct = message.conversationType == "direct"
        var urgentUsers: Set<UserID> = []
        var targets: [UserID] = []
        for candidate in candidates where !candidate.muted && candidate.user.rawValue != message.senderID {
            let mentioned = mentionsAll || message.mentions.contains(candidate.user.rawValue)
            guard direct || mentioned || message.memberCount <= settings.maxGroupSize else { continue }
            if direct || mentioned { urgentUsers.insert(candidate.user) }
            targets.append(candidate.user)
        }
        guard !targets.isEmpty else { return [] }
        let reachable = try await devices.usersWithDevices(among: targets, on: sql)
        let online = try await presence.onlineUsers(among: targets.filter(reachable.contains))
        let window = max(1, Int64(settings.coalesceWindow.components.seconds))
        let bucket = Int64(event.occurredAt.timeIntervalSince1970) / window
        return targets.filter { reachable.contains($0) && !online.contains($0) }.map { user in
            let urgent = urgentUsers.contains(user)
            let delay = urgent ? settings.urgentDelay : settings.delay
            return NewJob(
                kind: Self.jobKind,
                payload: ["user_id": .string(user.rawValue), "conversation_id": .string(conversationID), "urgent": .bool(urgent)],
                priority: urgent ? 20 : 60,
                runAt: event.occurredAt.addingTimeInterval(Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18),
                maxAttempts: 5,
                uniqueKey: "napush:\(user.rawValue):\(conversationID):\(bucket)\(urgent ? ":u" : "")"
            )
        }
    }

    // MARK: Sending

    /// What one push job did (for tests and logs).
    public enum Outcome: Sendable, Equatable {
        case pushed(accepted: Int)
        case skipped(String)
        case deferred(until: Date)
    }

    /// Runs one push job: decides again whether the push is still wanted, then sends it to every device.
    @discardableResult
    public func run(user: UserID, conversationID: String, urgent: Bool) async throws -> Outcome {
        guard settings.enabled else { return .skipped("automatic pushes are off") }
        guard try await presence.onlineUsers(among: [user]).isEmpty else { return .skipped("the user is online") }
        guard let unread = try await source.unread(conversationID: conversationID, user: user) else { return .skipped("not a member") }
        guard !unread.muted else { return .skipped("the conversation is muted") }
        guard unread.unreadCount > 0 else { return .skipped("nothing unread") }
        let database = notifications.database
        let pushed = try await database.sql.raw("""
            SELECT pushed_seq FROM notifications_auto_push WHERE user_id = \(bind: user.rawValue) AND conversation_id = \(bind: conversationID)
            """).first()?.decode(column: "pushed_seq", as: Int64.self) ?? 0
        guard unread.newestSeq > pushed else { return .skipped("already pushed") }
        if try await notifications.disabledChannels(of: [user], category: settings.category, on: database.sql)[user]?.contains(.push) ?? false {
            return .skipped("message pushes are turned off")
        }
        let now = notifications.clock.now()
        if let recipient = try await notifications.settings(of: [user], on: database.sql)[user], let quiet = recipient.quietHours,
           let end = quiet.endOfQuietPeriod(containing: now, in: recipient.timeZone ?? TimeZone(identifier: "UTC")!) {
            try await notifications.jobs.enqueue([NewJob(
                kind: Self.jobKind,
                payload: ["user_id": .string(user.rawValue), "conversation_id": .string(conversationID), "urgent": .bool(urgent)],
                priority: urgent ? 20 : 60, runAt: end, maxAttempts: 5,
                uniqueKey: "napush:\(user.rawValue):\(conversationID):quiet:\(end.unixMilliseconds)"
            )])
            return .deferred(until: end)
        }
        let content = self.content(unread, conversationID: conversationID, urgent: urgent || unread.conversationType == "direct")
        let report = try await dispatcher.push(content, to: user)
        if report.accepted == 0, !report.transientFailures.isEmpty {
            throw ChannelFailure(report.transientFailures.joined(separator: "; "))
        }
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO notifications_auto_push (user_id, conversation_id, pushed_seq, updated_at)
                VALUES (\(bind: user.rawValue), \(bind: conversationID), \(bind: unread.newestSeq), \(bind: now.unixMilliseconds))
                ON CONFLICT (user_id, conversation_id) DO UPDATE SET pushed_seq = excluded.pushed_seq, updated_at = excluded.updated_at
                WHERE notifications_auto_push.pushed_seq < excluded.pushed_seq
                """).run()
        }
        return report.accepted > 0 ? .pushed(accepted: report.accepted) : .skipped("no device accepted it")
    }

    /// "Alice" / "hello there" for one message; "Team" / "Alice: see you at 5 (+2 more)" for several.
    func content(_ unread: UnreadConversation, conversationID: String, urgent: Bool) -> PushContent {
        let sender = unread.latestSenderName ?? ""
        let preview = settings.showsContent ? unread.latestPreview.map { String($0.prefix(settings.previewLength)) } : nil
        let direct = unread.conversationType == "direct"
        var body: String
        switch (preview, direct) {
        case (let preview?, true): body = preview
        case (let preview?, false): body = sender.isEmpty ? preview : "\(sender): \(preview)"
        case (nil, _): body = unread.unreadCount == 1 ? "New message" : "\(unread.unreadCount) new messages"
        }
        if preview != nil, unread.unreadCount > 1 { body += " (+\(unread.unreadCount - 1) more)" }
        return PushContent(
            notificationID: "msg:\(conversationID):\(unread.newestSeq)", title: unread.title, body: body, category: settings.category,
            data: ["type": "message", "conversation_id": .string(conversationID), "seq": .int(Int(unread.newestSeq)),
                   "unread": .int(unread.unreadCount)],
            badge: unread.badge, collapseID: conversationID, urgent: urgent
        )
    }
}

/// Turns `message.created` events into delayed push jobs (`AutoPush`).
public struct AutoPushPlanner: EventConsumer {
    public let name = AutoPush.consumerName
    public let types: Set<String>? = ["message.created"]
    let autoPush: AutoPush

    /// While pushes are off or no push provider is configured, no event is decoded: the cursor just moves on.
    public func interest() async throws -> EventInterest {
        guard autoPush.settings.enabled, try await autoPush.dispatcher.isAvailable() else { return .nothing }
        return .only { type in type == "message.created" }
    }

    public func handle(_ events: [EventEnvelope], on sql: any SQLDatabase) async throws {
        // Nothing to do, and nothing to read, while pushes are off or no push provider is configured.
        guard autoPush.settings.enabled, try await autoPush.dispatcher.isAvailable() else { return }
        var jobs: [NewJob] = []
        for event in events { jobs += try await autoPush.plan(event, on: sql) }
        if !jobs.isEmpty { _ = try await autoPush.notifications.jobs.enqueue(jobs, on: sql) }
    }
}

/// Runs one automatic push (`notifications.autopush`).
public struct AutoPushHandler: JobHandler {
    public let kind = AutoPush.jobKind
    public let timeout: TimeInterval = 60
    let autoPush: AutoPush

    public func run(_ job: Job) async throws {
        guard let user = job.payload["user_id"]?.stringValue, let conversation = job.payload["conversation_id"]?.stringValue else {
            throw PermanentJobFailure("a malformed push job")
        }
        try await autoPush.run(user: UserID(trusted: user), conversationID: conversation, urgent: job.payload["urgent"] == .bool(true))
    }
}
