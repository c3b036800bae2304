import Events
import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

extension NotificationService {
    /// A recipient's settings as the fan-out needs them.
    struct RecipientSettings {
        var locale: String?
        var timeZone: TimeZone?
        var quietHours: QuietHours?
    }

    /// Delivers `record` to `recipients` inside the caller's transaction: in-app inbox rows, and a delivery
    /// row plus a job for every available external channel the user has not turned off (held back until the
    /// end of quiet hours unless the priority is critical). Returns how many recipients got something new, so a
    /// retried chunk counts nobody twice.
    func deliver(_ record: NotificationRecord, rendered: JSONValue, to recipients: [UserID], now: Date,
                 on sql: any SQLDatabase) async throws -> Int {
        guard !recipients.isEmpty else { return 0 }
        let category = try await category(record.category, on: sql)
        let templateChannels = Set(rendered.objectValue?.keys.compactMap(NotificationChannelKind.init(rawValue:)) ?? [])
        var external: [NotificationChannelKind] = []
        for kind in templateChannels.sorted(by: { $0.rawValue < $1.rawValue }) where kind != .inApp {
            if let channel = channels[kind], try await channel.isAvailable() { external.append(kind) }
        }
        let disabled = category.mandatory ? [:] : try await disabledChannels(of: recipients, category: record.category, on: sql)
        let needsSettings = !external.isEmpty && record.priority != .critical
        let recipientSettings = needsSettings ? try await settings(of: recipients, on: sql) : [:]
        var reached: Set<UserID> = []

        if templateChannels.contains(.inApp) {
            let inbox = recipients.filter { !(disabled[$0]?.contains(.inApp) ?? false) }
            for chunk in inbox.chunked(into: 500) {
                let values = chunk.map { user -> SQLQueryString in
                    "(\(bind: user.rawValue), \(bind: record.id), \(bind: record.category), \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds))"
                }
                let rows = try await sql.raw("""
                    INSERT INTO notifications_inbox (user_id, notification_id, category, visible_at, created_at)
                    VALUES \(values.joined(separator: ", ")) ON CONFLICT (user_id, notification_id) DO NOTHING RETURNING user_id
                    """).all()
                let added = try rows.map { UserID(trusted: try $0.decode(column: "user_id", as: String.self)) }
                reached.formUnion(added)
                if !added.isEmpty {
                    try await outbox.append(NewEvent(
                        type: "notification.delivered", actor: "system", subject: "notification:\(record.id)",
                        payload: ["notification_id": .string(record.id), "channel": "in_app", "live": "notification",
                                  "user_ids": .array(added.map { .string($0.rawValue) })],
                        occurredAt: now
                    ), on: sql)
                }
            }
        }

        for kind in external {
            var newJobs: [NewJob] = []
            var targets = recipients.filter { !(disabled[$0]?.contains(kind) ?? false) }
            if let reachable = try await channels[kind]?.reachableUsers(among: targets, on: sql) {
                targets = targets.filter(reachable.contains)
            }
            for chunk in targets.chunked(into: 500) {
                var values: [SQLQueryString] = []
                var deferrals: [UserID: Date] = [:]
                for user in chunk {
                    var deferredUntil: Date?
                    if record.priority != .critical, !settings.quietHoursExemptChannels.contains(kind),
                       let userSettings = recipientSettings[user], let quiet = userSettings.quietHours {
                        deferredUntil = quiet.endOfQuietPeriod(containing: now, in: userSettings.timeZone ?? TimeZone(identifier: "UTC")!)
                    }
                    deferrals[user] = deferredUntil
                    values.append("""
                        (\(bind: record.id), \(bind: user.rawValue), \(bind: kind.rawValue), 'queued', NULL, 0,
                        \(bind: deferredUntil?.unixMilliseconds), \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds))
                        """)
                }
                let rows = try await sql.raw("""
                    INSERT INTO notifications_deliveries (notification_id, user_id, channel, state, reason, attempts, deferred_until,
                        created_at, updated_at)
                    VALUES \(values.joined(separator: ", ")) ON CONFLICT (notification_id, user_id, channel) DO NOTHING RETURNING user_id
                    """).all()
                for row in rows {
                    let user = UserID(trusted: try row.decode(column: "user_id", as: String.self))
                    reached.insert(user)
                    newJobs.append(NewJob(
                        kind: Self.deliveryJobKind,
                        payload: ["notification_id": .string(record.id), "user_id": .string(user.rawValue), "channel": .string(kind.rawValue)],
                        priority: record.priority == .critical ? 10 : (record.priority == .high ? 50 : 100),
                        runAt: deferrals[user] ?? nil, maxAttempts: settings.deliveryMaxAttempts,
                        uniqueKey: "ndel:\(record.id):\(kind.rawValue):\(user.rawValue)"
                    ))
                }
            }
            try await jobs.enqueue(newJobs, on: sql)
        }
        return reached.count
    }

    /// user → channels they turned off for `category`.
    func disabledChannels(of users: [UserID], category: String, on sql: any SQLDatabase) async throws -> [UserID: Set<NotificationChannelKind>] {
        var result: [UserID: Set<NotificationChannelKind>] = [:]
        for chunk in users.chunked(into: 500) {
            let rows = try await sql.raw("""
                SELECT user_id, channel FROM notifications_preferences
                WHERE category = \(bind: category) AND enabled = \(bind: false) AND user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows {
                guard let kind = NotificationChannelKind(rawValue: try row.decode(column: "channel", as: String.self)) else { continue }
                result[UserID(trusted: try row.decode(column: "user_id", as: String.self)), default: []].insert(kind)
            }
        }
        return result
    }

    func settings(of users: [UserID], on sql: any SQLDatabase) async throws -> [UserID: RecipientSettings] {
        var result: [UserID: RecipientSettings] = [:]
        for chunk in users.chunked(into: 500) {
            let rows = try await sql.raw("""
                SELECT * FROM notifications_user_settings WHERE user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows {
                result[UserID(trusted: try row.decode(column: "user_id", as: String.self))] = try Self.decodeSettings(row)
            }
        }
        return result
    }

    static func decodeSettings(_ row: any SQLRow) throws -> RecipientSettings {
        let start = try row.decodeOptional("quiet_start", as: Int.self)
        let end = try row.decodeOptional("quiet_end", as: Int.self)
        return RecipientSettings(
            locale: try row.decodeOptional("locale", as: String.self),
            timeZone: try row.decodeOptional("time_zone", as: String.self).flatMap(TimeZone.init(identifier:)),
            quietHours: start.flatMap { start in end.flatMap { try? QuietHours(start: start, end: $0) } }
        )
    }

    // MARK: Fan-out jobs

    /// Runs one fan-out step of a broadcast or scheduled notification: expands the next chunk of recipients
    /// after `after`, delivers to them, and enqueues the next step (or marks the notification sent) in the
    /// same transaction. Safe to run twice: deliveries are keyed, and the next step has a unique key.
    public func runFanOut(notificationID: String, after: String?) async throws {
        guard let (record, rendered) = try await notification(notificationID), record.state == .fanningOut || record.state == .scheduled else {
            return
        }
        let limit = settings.fanOutChunkSize
        let candidates: [UserID]
        let active: [UserID]
        switch record.recipients {
        case .users(let list):
            candidates = list.filter { after == nil || $0.rawValue > after! }.sorted().prefix(limit).map { $0 }
            let alive = try await users.activeUsers(among: candidates)
            active = candidates.filter(alive.contains)
        case .topic(let topic):
            candidates = try await database.sql.raw("""
                SELECT user_id FROM notifications_topic_subscriptions WHERE topic = \(bind: topic) AND user_id > \(bind: after ?? "")
                ORDER BY user_id LIMIT \(bind: limit)
                """).all().map { UserID(trusted: try $0.decode(column: "user_id", as: String.self)) }
            let alive = try await users.activeUsers(among: candidates)
            active = candidates.filter(alive.contains)
        case .all:
            candidates = try await users.activeUsers(after: after.map(UserID.init(trusted:)), limit: limit)
            active = candidates
        }
        let now = clock.now()
        let more = candidates.count == limit
        try await database.transaction { sql in
            let reached = try await deliver(record, rendered: rendered, to: active, now: now, on: sql)
            try await sql.raw("""
                UPDATE notifications_notifications SET recipient_count = recipient_count + \(bind: reached),
                    state = \(bind: more ? NotificationRecord.State.fanningOut.rawValue : NotificationRecord.State.sent.rawValue),
                    updated_at = \(bind: now.unixMilliseconds)
                WHERE id = \(bind: record.id)
                """).run()
            if more, let last = candidates.last {
                try await jobs.enqueue([NewJob(kind: Self.fanOutJobKind,
                                               payload: ["notification_id": .string(record.id), "after": .string(last.rawValue)],
                                               uniqueKey: "nfan:\(record.id):\(last.rawValue)")], on: sql)
            }
        }
    }

    /// A notification and its rendered variants.
    public func notification(_ id: String) async throws -> (NotificationRecord, JSONValue)? {
        guard let row = try await database.sql.raw("SELECT * FROM notifications_notifications WHERE id = \(bind: id)").first() else { return nil }
        return (try Self.decodeRecord(row), try row.decodeJSON("rendered"))
    }

    static func decodeRecord(_ row: any SQLRow) throws -> NotificationRecord {
        NotificationRecord(
            id: try row.decode(column: "id", as: String.self),
            templateKey: try row.decode(column: "template_key", as: String.self),
            category: try row.decode(column: "category", as: String.self),
            priority: NotificationPriority(rawValue: try row.decode(column: "priority", as: String.self)) ?? .normal,
            recipients: RecipientSpec(json: try row.decodeJSON("recipients")) ?? .users([]),
            data: try row.decodeJSON("data").objectValue ?? [:],
            state: NotificationRecord.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .sent,
            recipientCount: try row.decode(column: "recipient_count", as: Int.self),
            sendAt: try row.decodeOptionalDate("send_at"),
            digestCount: try row.decodeOptional("digest_count", as: Int.self),
            createdAt: try row.decodeDate("created_at")
        )
    }

    // MARK: Delivery jobs

    /// Runs one external delivery attempt and records its outcome on the delivery row. Throws to have the
    /// job retried; `PermanentJobFailure` when retrying cannot help.
    public func runDelivery(notificationID: String, user: UserID, channel kind: NotificationChannelKind, attempt: Int,
                            finalAttempt: Bool) async throws {
        guard let row = try await database.sql.raw("""
            SELECT state FROM notifications_deliveries
            WHERE notification_id = \(bind: notificationID) AND user_id = \(bind: user.rawValue) AND channel = \(bind: kind.rawValue)
            """).first() else { return }
        guard try row.decode(column: "state", as: String.self) == DeliveryState.queued.rawValue else { return }
        guard let (record, rendered) = try await notification(notificationID) else {
            try await recordDelivery(notificationID, user: user, channel: kind, state: .failed, reason: "the notification is gone")
            return
        }
        let category = try await category(record.category)
        if !category.mandatory,
           try await disabledChannels(of: [user], category: record.category, on: database.sql)[user]?.contains(kind) ?? false {
            try await recordDelivery(notificationID, user: user, channel: kind, state: .failed, reason: "turned off in the user's preferences")
            return
        }
        guard let channel = channels[kind] else {
            try await recordDelivery(notificationID, user: user, channel: kind, state: .failed, reason: "the channel is not available")
            return
        }
        let userSettings = try await settings(of: [user], on: database.sql)[user]
        guard let content = content(rendered, channel: kind, locale: userSettings?.locale) else {
            try await recordDelivery(notificationID, user: user, channel: kind, state: .failed, reason: "no template for the channel")
            return
        }
        let message = ChannelMessage(
            notificationID: notificationID, user: user, channel: kind, templateKey: record.templateKey, category: record.category,
            priority: record.priority, locale: content.locale, content: content.fields, data: record.data,
            clickURL: content.fields["action_url"].map { _ in clickLink(notificationID: notificationID, user: user, channel: kind) },
            attempt: attempt
        )
        do {
            let outcome = try await channel.deliver(message)
            try await recordDelivery(notificationID, user: user, channel: kind, state: outcome == .delivered ? .delivered : .sent, reason: nil)
        } catch let failure as ChannelFailure {
            let final = failure.permanent || finalAttempt
            try await recordDelivery(notificationID, user: user, channel: kind, state: final ? .failed : .queued, reason: failure.reason)
            if failure.permanent { throw PermanentJobFailure(failure.reason) }
            throw failure
        } catch {
            try await recordDelivery(notificationID, user: user, channel: kind, state: finalAttempt ? .failed : .queued, reason: "\(error)")
            throw error
        }
    }

    func recordDelivery(_ notificationID: String, user: UserID, channel: NotificationChannelKind, state: DeliveryState,
                        reason: String?) async throws {
        let at = clock.now()
        let now = at.unixMilliseconds
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE notifications_deliveries SET state = \(bind: state.rawValue), reason = \(bind: reason.map { String($0.prefix(1000)) }),
                    attempts = attempts + 1, updated_at = \(bind: now)
                WHERE notification_id = \(bind: notificationID) AND user_id = \(bind: user.rawValue) AND channel = \(bind: channel.rawValue)
                """).run()
            // The funnel of external channels: handed over (`sent`, also when the provider confirmed delivery) or
            // given up (`failed`). In-app delivery has its own `notification.delivered` event from the fan-out.
            let stage: String? = switch state {
            case .sent, .delivered: "sent"
            case .failed: "failed"
            default: nil
            }
            if let stage {
                var payload: [String: JSONValue] = [
                    "notification_id": .string(notificationID), "user_id": .string(user.rawValue), "channel": .string(channel.rawValue),
                ]
                if let reason { payload["reason"] = .string(String(reason.prefix(500))) }
                try await outbox.append(NewEvent(
                    type: "notification.\(stage)", actor: "system", subject: "notification:\(notificationID)", payload: .object(payload),
                    occurredAt: at
                ), on: sql)
            }
        }
    }

    /// Every channel's delivery state of one notification for one user; `in_app` is derived from the inbox entry.
    public func deliveries(notificationID: String, user: UserID) async throws -> [Delivery] {
        var result: [Delivery] = []
        if let row = try await database.sql.raw("""
            SELECT * FROM notifications_inbox WHERE user_id = \(bind: user.rawValue) AND notification_id = \(bind: notificationID)
            """).first() {
            let clicked = try row.decodeOptionalDate("clicked_at"), read = try row.decodeOptionalDate("read_at")
            let seen = try row.decodeOptionalDate("seen_at"), created = try row.decodeDate("created_at")
            let state: DeliveryState = clicked != nil ? .clicked : read != nil ? .read : seen != nil ? .seen : .delivered
            result.append(Delivery(notificationID: notificationID, user: user, channel: .inApp, state: state, reason: nil, attempts: 1,
                                   deferredUntil: nil, updatedAt: clicked ?? read ?? seen ?? created))
        }
        let rows = try await database.sql.raw("""
            SELECT * FROM notifications_deliveries WHERE notification_id = \(bind: notificationID) AND user_id = \(bind: user.rawValue)
            ORDER BY channel
            """).all()
        for row in rows {
            result.append(Delivery(
                notificationID: notificationID, user: user,
                channel: NotificationChannelKind(rawValue: try row.decode(column: "channel", as: String.self)) ?? .webhook,
                state: DeliveryState(rawValue: try row.decode(column: "state", as: String.self)) ?? .queued,
                reason: try row.decodeOptional("reason", as: String.self), attempts: try row.decode(column: "attempts", as: Int.self),
                deferredUntil: try row.decodeOptionalDate("deferred_until"), updatedAt: try row.decodeDate("updated_at")
            ))
        }
        return result
    }
}
