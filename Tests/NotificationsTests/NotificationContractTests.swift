import Events
import Foundation
import Notifications
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The Notifications context's guarantees, on every engine.
@Suite struct NotificationContractTests {
    @Test(arguments: TestDatabases.engines)
    func templatesRenderInTheUsersLocaleWithFallbackAndAMissingVariableIsAnErrorNamingIt(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate(title: "Hello {{name}}", body: "Welcome to {{place}} <3")
            try await f.inAppTemplate(title: "你好 {{name}}", body: "歡迎來到 {{place}}", locale: "zh-Hant")
            _ = try await f.service.setPreferences(NotificationPreferences(locale: "zh-Hant-TW"), of: .u(1))
            _ = try await f.service.setPreferences(NotificationPreferences(locale: "fr-CA"), of: .u(2))
            let result = try await f.service.trigger(
                TriggerRequest(templateKey: "welcome", recipients: .users([.u(1), .u(2), .u(3)]), data: ["name": "Ann", "place": "Parley"]),
                actor: "key:test")
            #expect(result.status == .accepted)
            #expect(result.recipients == 3)
            let page = try PageRequest(limit: 10)
            let chinese = try #require(try await f.service.inbox(of: .u(1), page: page).items.first)
            #expect(chinese.title == "你好 Ann")
            let french = try #require(try await f.service.inbox(of: .u(2), page: page).items.first)
            #expect(french.title == "Hello Ann")
            #expect(french.body == "Welcome to Parley <3")  // Plain text: not HTML-escaped.
            #expect(french.actionURL == "https://example.com/n/Ann")

            // `place` is missing: refused at trigger time, naming the variable, with nothing stored.
            let before = try await f.scalar("SELECT COUNT(*) AS n FROM notifications_notifications")
            await #expect {
                _ = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]), data: ["name": "Bo"]),
                                                actor: "key:test")
            } throws: { error in
                (error as? ParleyError)?.code == "notifications.missing_variable" && (error as? ParleyError)?.details["variable"] == "place"
            }
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_notifications") == before)
            // A null value is missing too; an unknown template is its own error.
            await #expect(throws: ParleyError.missingVariable("name", template: "welcome", channel: "in_app", locale: "en", field: "action_url")) {
                _ = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]),
                                                               data: ["name": .null, "place": "x"]), actor: "key:test")
            }
            await #expect(throws: ParleyError.templateNotFound("nope")) {
                _ = try await f.service.trigger(TriggerRequest(templateKey: "nope", recipients: .users([.u(1)])), actor: "key:test")
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func anIdempotencyKeyReplaysTheFirstAnswerAndRefusesAnotherBodyAndDedupDropsRepeatsInTheWindow(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            let request = TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]), data: ["name": "A", "place": "P"])
            let first = try await f.service.trigger(request, actor: "key:k1", idempotencyKey: "abc")
            let replay = try await f.service.trigger(request, actor: "key:k1", idempotencyKey: "abc")
            #expect(replay.id == first.id)
            #expect(replay.replayed && !first.replayed)
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_inbox WHERE user_id = 'u1'") == 1)
            var other = request
            other.data["name"] = "B"
            await #expect(throws: ParleyError.idempotencyConflict("abc")) {
                _ = try await f.service.trigger(other, actor: "key:k1", idempotencyKey: "abc")
            }
            // Keys are per caller: another key may use the same string.
            let otherCaller = try await f.service.trigger(other, actor: "key:k2", idempotencyKey: "abc")
            #expect(otherCaller.id != first.id)
            // Concurrent replays of one key: one notification.
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 { group.addTask { try await f.service.trigger(request, actor: "key:k3", idempotencyKey: "race").id } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)

            var deduped = request
            deduped.dedup = DedupSpec(key: "welcome:u1", window: 60)
            let one = try await f.service.trigger(deduped, actor: "key:k1")
            let two = try await f.service.trigger(deduped, actor: "key:k1")
            #expect(one.status == .accepted)
            #expect(two.status == .deduplicated)
            #expect(two.id == one.id)
            f.clock.advance(by: 61)
            let three = try await f.service.trigger(deduped, actor: "key:k1")
            #expect(three.status == .accepted)
            #expect(three.id != one.id)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func quietHoursDeferExternalChannelsToTheirEndAndCriticalBypassesThem(engine: DatabaseEngine) async throws {
        // 23:30 in New York on the night clocks go forward.
        let clock = ManualWallClock(Timestamp.parse("2026-03-08T04:30:00Z")!)
        try await NotificationsFixture.run(engine, clock: clock) { f in
            try await f.inAppTemplate()
            _ = try await f.service.putTemplate(key: "welcome", channel: .webhook, locale: "en", fields: ["title": "Hi {{name}}", "body": "{{place}}"])
            _ = try await f.configs.setWebhook(url: "https://platform.example/notify", secret: "s3cret-s3cret-s3cret", enabled: true)
            _ = try await f.service.setPreferences(NotificationPreferences(timeZone: "America/New_York",
                                                                           quietHours: try QuietHours(start: 22 * 60, end: 7 * 60)), of: .u(1))
            let data: [String: JSONValue] = ["name": "A", "place": "P"]
            let normal = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1), .u(2)]), data: data),
                                                     actor: "key:k")
            // The inbox fills at once (silent); the webhook to u1 waits for 07:00 EDT = 11:00Z; u2 has no quiet hours.
            #expect(try await f.service.counts(of: .u(1)).unread == 1)
            let deferred = try #require(try await f.service.deliveries(notificationID: normal.id, user: .u(1)).first { $0.channel == .webhook })
            #expect(deferred.state == .queued)
            #expect(deferred.deferredUntil == Timestamp.parse("2026-03-08T11:00:00Z"))
            #expect(try await f.drainJobs() == 1)  // Only u2's delivery is due.
            #expect(f.http.count == 1)
            clock.set(Timestamp.parse("2026-03-08T11:00:00Z")!)
            #expect(try await f.drainJobs() == 1)
            #expect(f.http.count == 2)
            #expect(try await f.service.deliveries(notificationID: normal.id, user: .u(1)).first { $0.channel == .webhook }?.state == .sent)

            // Back in quiet hours the next night: critical is not held back.
            clock.set(Timestamp.parse("2026-03-09T03:30:00Z")!)
            let critical = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]), data: data,
                                                                      priority: .critical), actor: "key:k")
            #expect(try await f.service.deliveries(notificationID: critical.id, user: .u(1)).first { $0.channel == .webhook }?.deferredUntil == nil)
            #expect(try await f.drainJobs() == 1)
            // The signed request carried the rendered content.
            let last = try #require(f.http.requests.withLock { $0.last })
            let signature = try #require(last.headers.first { $0.0 == WebhookSignature.header }?.1)
            #expect(WebhookSignature.verify(headerValue: signature, body: last.body, secret: "s3cret-s3cret-s3cret", now: clock.now()))
            let body = try JSONDecoder().decode(JSONValue.self, from: last.body)
            #expect(body["content"]?["title"] == "Hi A")
            #expect(body["priority"] == "critical")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func concurrentTriggersIntoOneDigestYieldExactlyOneNotificationListingEveryEvent(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            _ = try await f.service.putTemplate(key: "likes", channel: .inApp, locale: "en", fields: [
                "title": "{{count}} people liked your comment",
                "body": "{{#events}}{{actor}} {{/events}}",
            ])
            let actors = (1...20).map { "user\($0)" }
            try await withThrowingTaskGroup(of: TriggerResult.self) { group in
                for actor in actors {
                    group.addTask {
                        try await f.service.trigger(TriggerRequest(templateKey: "likes", recipients: .users([.u(1)]), data: ["actor": .string(actor)],
                                                                   digest: DigestSpec(key: "comment:42", window: 300)), actor: "key:k")
                    }
                }
                for try await result in group { #expect(result.status == .digested) }
            }
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_digests") == 1)
            #expect(try await f.service.counts(of: .u(1)).total == 0)
            // Nothing before the window ends.
            #expect(try await f.drainJobs() == 0)
            f.clock.advance(by: 300)
            #expect(try await f.drainJobs() == 1)
            let inbox = try await f.service.inbox(of: .u(1), page: try PageRequest(limit: 10)).items
            #expect(inbox.count == 1)
            let entry = try #require(inbox.first)
            #expect(entry.title == "20 people liked your comment")
            #expect(entry.digestCount == 20)
            #expect(Set(entry.body.split(separator: " ").map(String.init)) == Set(actors))
            // A retried flush finds the digest closed and adds nothing.
            let digestID = try #require(try await f.database.sql.raw("SELECT id FROM notifications_digests").first()?.decode(column: "id", as: String.self))
            #expect(try await f.service.flushDigest(digestID) == nil)
            #expect(try await f.service.counts(of: .u(1)).total == 1)
            // The next trigger opens a new digest.
            _ = try await f.service.trigger(TriggerRequest(templateKey: "likes", recipients: .users([.u(1)]), data: ["actor": "late"],
                                                           digest: DigestSpec(key: "comment:42", window: 300)), actor: "key:k")
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_digests WHERE state = 'open'") == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func anOptOutIsRespectedButAMandatoryCategoryCannotBeTurnedOff(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            _ = try await f.service.putCategory("social", description: "Likes and follows", mandatory: false)
            _ = try await f.service.putCategory("security", description: "Sign-ins", mandatory: true)
            _ = try await f.service.setPreferences(NotificationPreferences(channels: ["social": [.inApp: false]]), of: .u(1))
            await #expect(throws: ParleyError.mandatoryCategory("security", channel: "in_app")) {
                _ = try await f.service.setPreferences(NotificationPreferences(channels: ["security": [.inApp: false]]), of: .u(1))
            }
            await #expect(throws: ParleyError.categoryNotFound("nope")) {
                _ = try await f.service.setPreferences(NotificationPreferences(channels: ["nope": [.inApp: false]]), of: .u(1))
            }
            let data: [String: JSONValue] = ["name": "A", "place": "P"]
            let social = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1), .u(2)]), data: data,
                                                                    category: "social"), actor: "key:k")
            #expect(social.recipients == 1)
            #expect(try await f.service.counts(of: .u(1)).total == 0)
            #expect(try await f.service.counts(of: .u(2)).total == 1)
            // An admin makes `social` mandatory after u1 opted out: the stored opt-out no longer applies.
            _ = try await f.service.putCategory("social", description: "Likes and follows", mandatory: true)
            _ = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]), data: data, category: "social"),
                                            actor: "key:k")
            #expect(try await f.service.counts(of: .u(1)).byCategory["social"]?.unread == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aBroadcastToOneHundredThousandUsersCompletesThroughFanOutJobs(engine: DatabaseEngine) async throws {
        let users = (1...100_000).map { UserID(trusted: String(format: "user%06d", $0)) }
        try await NotificationsFixture.run(engine, users: users) { f in
            try await f.inAppTemplate(title: "Big news", body: "For {{place}}", actionURL: nil)
            let result = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .all, data: ["place": "everyone"]),
                                                     actor: "key:k")
            #expect(result.status == .accepted)
            // Nothing per user up front: one notification and one fan-out job.
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_inbox") == 0)
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM events_jobs") == 1)
            // 100 full chunks, then one step that finds nobody left and marks the notification sent.
            let ran = try await f.drainJobs()
            #expect(ran == 101)
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_inbox WHERE notification_id = \(bind: result.id)") == 100_000)
            #expect(try await f.scalar("SELECT COUNT(DISTINCT user_id) AS n FROM notifications_inbox") == 100_000)
            let record = try await f.service.record(result.id)
            #expect(record.state == .sent)
            #expect(record.recipientCount == 100_000)
            for index in [0, 1, 999, 1000, 54_321, 99_999] {
                let entry = try #require(try await f.service.inbox(of: users[index], page: try PageRequest(limit: 5)).items.first)
                #expect(entry.notificationID == result.id)
                #expect(entry.body == "For everyone")
                #expect(try await f.service.counts(of: users[index]).unread == 1)
            }
            // A fan-out step run again (a retried job) adds nobody twice.
            try await f.service.runFanOut(notificationID: result.id, after: nil)
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM notifications_inbox") == 100_000)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aTopicBroadcastReachesOnlyActiveSubscribersInChunks(engine: DatabaseEngine) async throws {
        let users = (1...25).map { UserID.u($0) }
        try await NotificationsFixture.run(engine, users: users, chunkSize: 10) { f in
            try await f.inAppTemplate()
            try await f.service.subscribe(Array(users.prefix(22)) + [UserID(trusted: "ghost")], to: "news")
            try await f.service.unsubscribe([.u(2)], from: "news")
            #expect(try await f.service.topics(of: .u(1)) == ["news"])
            let result = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .topic("news"),
                                                                    data: ["name": "A", "place": "P"]), actor: "key:k")
            #expect(try await f.drainJobs() == 3)
            #expect(try await f.service.record(result.id).recipientCount == 21)
            #expect(try await f.service.counts(of: .u(2)).total == 0)
            #expect(try await f.service.counts(of: .u(23)).total == 0)
            #expect(try await f.service.counts(of: .u(22)).total == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func inboxListsFiltersCountsMarksAndSnoozes(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            _ = try await f.service.putCategory("social", description: "", mandatory: false)
            var ids: [String] = []
            for n in 0..<5 {
                f.clock.advance(by: 1)
                let result = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]),
                                                                        data: ["name": .string("n\(n)"), "place": "P"],
                                                                        category: n % 2 == 0 ? "social" : "general"), actor: "key:k")
                ids.append(result.id)
            }
            var counts = try await f.service.counts(of: .u(1))
            #expect(counts.total == 5 && counts.unread == 5 && counts.unseen == 5)
            #expect(counts.byCategory["social"]?.unread == 3)
            // Newest first, two per page.
            let first = try await f.service.inbox(of: .u(1), page: try PageRequest(limit: 2))
            #expect(first.items.map(\.notificationID) == [ids[4], ids[3]])
            let second = try await f.service.inbox(of: .u(1), page: try PageRequest(limit: 2, cursor: first.nextCursor))
            #expect(second.items.map(\.notificationID) == [ids[2], ids[1]])
            let third = try await f.service.inbox(of: .u(1), page: try PageRequest(limit: 2, cursor: second.nextCursor))
            #expect(third.items.map(\.notificationID) == [ids[0]])
            #expect(third.nextCursor == nil)

            _ = try await f.service.mark(ids[4], as: .read, user: .u(1))
            _ = try await f.service.mark(ids[3], as: .seen, user: .u(1))
            _ = try await f.service.mark(ids[0], as: .archived, user: .u(1))
            counts = try await f.service.counts(of: .u(1))
            #expect(counts.total == 4 && counts.unread == 3 && counts.unseen == 2)
            #expect(try await f.service.inbox(of: .u(1), filter: InboxFilter(unreadOnly: true), page: try PageRequest()).items.count == 3)
            #expect(try await f.service.inbox(of: .u(1), filter: InboxFilter(category: "social"), page: try PageRequest()).items.count == 2)
            #expect(try await f.service.inbox(of: .u(1), filter: InboxFilter(archived: .only), page: try PageRequest()).items.map(\.notificationID)
                == [ids[0]])
            // Another user cannot touch u1's entries.
            await #expect(throws: ParleyError.notificationNotFound(ids[1])) { _ = try await f.service.mark(ids[1], as: .read, user: .u(2)) }

            // Snooze hides an entry until its time, then it is back on top, unread.
            _ = try await f.service.snooze(ids[4], user: .u(1), until: f.clock.now().addingTimeInterval(3600))
            #expect(try await f.service.inbox(of: .u(1), page: try PageRequest()).items.map(\.notificationID) == [ids[3], ids[2], ids[1]])
            #expect(try await f.drainJobs() == 0)  // Not due yet.
            f.clock.advance(by: 3600)
            let back = try await f.service.inbox(of: .u(1), page: try PageRequest()).items
            #expect(back.first?.notificationID == ids[4])
            #expect(back.first?.readAt == nil)
            // Its return is announced, so the live feed pushes it like a new entry.
            #expect(try await f.drainJobs() == 1)
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM events_log WHERE type = 'notification.resurfaced'") == 1)

            // Bulk: everything up to now read (the archived entry too).
            let changed = try await f.service.markAll(as: .read, user: .u(1))
            #expect(changed == 5)
            counts = try await f.service.counts(of: .u(1))
            #expect(counts.unread == 0 && counts.unseen == 0)
            // Every change is an event the live feed turns into a badge.
            #expect(try await f.scalar("SELECT COUNT(*) AS n FROM events_log WHERE type = 'notification.inbox_changed'") == 5)
            let delivered = try await f.service.deliveries(notificationID: ids[4], user: .u(1))
            #expect(delivered.map(\.state) == [.read])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aTrackedLinkNeedsItsSignatureRecordsTheClickAndNamesTheActionURL(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            let result = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]),
                                                                    data: ["name": "Ann", "place": "P"]), actor: "key:k")
            let link = f.service.clickLink(notificationID: result.id, user: .u(1))
            let signature = try #require(URLComponents(string: link)?.queryItems?.first { $0.name == "sig" }?.value)
            await #expect(throws: ParleyError.invalidClickSignature()) {
                _ = try await f.service.click(notificationID: result.id, user: .u(2), channel: .inApp, signature: signature)
            }
            await #expect(throws: ParleyError.invalidClickSignature()) {
                _ = try await f.service.click(notificationID: result.id, user: .u(1), channel: .inApp, signature: String(repeating: "0", count: 64))
            }
            let target = try await f.service.click(notificationID: result.id, user: .u(1), channel: .inApp, signature: signature)
            #expect(target == "https://example.com/n/Ann")
            let states = try await f.service.deliveries(notificationID: result.id, user: .u(1))
            #expect(states.first?.state == .clicked)
            #expect(try await f.service.counts(of: .u(1)).unread == 0)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aFailingWebhookIsRetriedThenFailedWithItsReason(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            _ = try await f.service.putTemplate(key: "ping", channel: .webhook, locale: "en", fields: ["title": "t", "body": "b"])
            // Not configured: no delivery is created at all.
            let unconfigured = try await f.service.trigger(TriggerRequest(templateKey: "ping", recipients: .users([.u(1)])), actor: "key:k")
            #expect(try await f.service.deliveries(notificationID: unconfigured.id, user: .u(1)).isEmpty)
            _ = try await f.configs.setWebhook(url: "https://platform.example/notify", secret: nil, enabled: true)
            f.http.status.store(503, ordering: .relaxed)
            let result = try await f.service.trigger(TriggerRequest(templateKey: "ping", recipients: .users([.u(1)])), actor: "key:k")
            for _ in 0..<8 {
                try await f.drainJobs()
                f.clock.advance(by: 20)
            }
            let delivery = try #require(try await f.service.deliveries(notificationID: result.id, user: .u(1)).first)
            #expect(delivery.state == .failed)
            #expect(delivery.attempts == 8)
            #expect(delivery.reason?.contains("503") == true)
            // A refusal (410) is permanent at once.
            f.http.status.store(410, ordering: .relaxed)
            let gone = try await f.service.trigger(TriggerRequest(templateKey: "ping", recipients: .users([.u(2)])), actor: "key:k")
            try await f.drainJobs()
            let refused = try #require(try await f.service.deliveries(notificationID: gone.id, user: .u(2)).first)
            #expect(refused.state == .failed && refused.attempts == 1)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aScheduledNotificationWaitsForSendAt(engine: DatabaseEngine) async throws {
        try await NotificationsFixture.run(engine) { f in
            try await f.inAppTemplate()
            let result = try await f.service.trigger(TriggerRequest(templateKey: "welcome", recipients: .users([.u(1)]),
                                                                    data: ["name": "A", "place": "P"],
                                                                    sendAt: f.clock.now().addingTimeInterval(600)), actor: "key:k")
            #expect(result.status == .scheduled)
            #expect(try await f.drainJobs() == 0)
            #expect(try await f.service.counts(of: .u(1)).total == 0)
            f.clock.advance(by: 600)
            #expect(try await f.drainJobs() == 1)
            #expect(try await f.service.counts(of: .u(1)).total == 1)
            #expect(try await f.service.record(result.id).state == .sent)
        }
    }
}
