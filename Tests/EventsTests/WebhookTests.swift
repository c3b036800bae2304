import Events
import Foundation
import ParleyCore
import ParleyOutbound
import ParleyStorage
import ParleyTestSupport
import Testing

/// Webhooks end to end against a real HTTP receiver on a loopback port: fan-out from the log, signed
/// delivery over AsyncHTTPClient, retries with backoff, dead letters, auto-disable, replay and filters.
@Suite struct WebhookTests {
    /// Everything between the event log and the receiver, driven by hand (no background tasks) with a
    /// hand-moved clock for the queue.
    struct Harness: Sendable {
        let database: Database
        let log: EventLog
        let jobs: JobQueue
        let webhooks: WebhookService
        let clock: ManualWallClock
        let receiver: TestReceiver

        var handler: WebhookDeliveryHandler { WebhookDeliveryHandler(webhooks: webhooks, http: AsyncHTTPOutbound()) }

        static func run(
            _ engine: DatabaseEngine, settings: WebhookSettings = WebhookSettings(), backoff: Backoff = Backoff(base: 1, cap: 60),
            clock: ManualWallClock = ManualWallClock(Date()), _ body: @Sendable (Harness) async throws -> Void
        ) async throws {
            try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations, JobQueue.migrations, WebhookService.migrations]) {
                database in
                try await TestReceiver.run { receiver in
                    let ids = SortableIDGenerator()
                    let jobs = JobQueue(database: database, ids: ids, clock: clock, backoff: backoff)
                    let webhooks = WebhookService(database: database, jobs: jobs, ids: ids, clock: clock, settings: settings)
                    try await body(Harness(database: database, log: EventLog(database: database, ids: ids), jobs: jobs,
                                           webhooks: webhooks, clock: clock, receiver: receiver))
                }
            }
        }

        /// Appends one event and returns it as the log stores it.
        @discardableResult
        func append(_ type: String, at occurredAt: Date? = nil, payload: JSONValue = ["k": "v"]) async throws -> EventEnvelope {
            let head = try await log.headPosition()
            try await database.transaction { sql in
                try await log.append(NewEvent(type: type, actor: "user:alice", subject: "conversation:c1", payload: payload,
                                              occurredAt: occurredAt ?? clock.now()), on: sql)
            }
            return try #require(try await log.read(after: head, limit: 1).first)
        }

        /// Runs the webhook fan-out consumer until it has caught up with the log.
        func fanOut() async throws {
            let runner = ConsumerRunner(log: log, consumers: [], database: database, clock: clock, logger: TestDatabases.logger)
            let fanout = WebhookFanout(webhooks: webhooks)
            while try await runner.step(fanout) {}
        }

        /// Claims every due delivery job and runs it as the worker would; returns how many attempts ran.
        @discardableResult
        func runDue() async throws -> Int {
            let due = try await jobs.claim(kinds: [WebhookService.jobKind], limit: 100, worker: "test", lease: 60)
            for job in due {
                do {
                    try await handler.run(job)
                    try await jobs.complete(job)
                } catch {
                    try await jobs.fail(job, error: "\(error)", permanent: error is PermanentJobFailure)
                }
            }
            return due.count
        }

        func deliveries(_ endpoint: WebhookEndpoint) async throws -> [WebhookDelivery] {
            try await webhooks.deliveries(endpoint: endpoint.id, state: nil, page: try PageRequest(limit: 200)).items.reversed()
        }
    }

    static let secret = "whsec_test_secret_0123456789"

    @Test(arguments: TestDatabases.engines)
    func aDeliveryIsSignedAndCarriesTheEventHeaders(engine: DatabaseEngine) async throws {
        try await Harness.run(engine) { h in
            let endpoint = try await h.webhooks.create(url: h.receiver.url, description: "crm", eventTypes: [], secret: Self.secret)
            let event = try await h.append("message.created", payload: ["text": "hi"])
            try await h.fanOut()
            #expect(try await h.runDue() == 1)
            let request = try #require(h.receiver.received.first)
            let delivery = try #require(try await h.deliveries(endpoint).first)
            #expect(delivery.state == .succeeded)
            #expect(delivery.attempts == 1)
            #expect(delivery.lastStatus == 200)

            #expect(request[header: "Parley-Event-Type"] == "message.created")
            #expect(request[header: "Parley-Event-Id"] == event.id)
            #expect(request[header: "Parley-Delivery-Id"] == delivery.id)
            #expect(request[header: "Parley-Delivery-Attempt"] == "1")
            #expect(request[header: "Parley-Webhook-Id"] == endpoint.id)
            #expect(request[header: "Content-Type"] == "application/json")
            let body = try JSONDecoder().decode(JSONValue.self, from: request.body)
            #expect(body["id"] == .string(event.id))
            #expect(body["type"] == "message.created")
            #expect(body["data"] == ["text": "hi"])
            #expect(body["occurred_at"] == .string(Timestamp.format(event.occurredAt)))

            let signature = try #require(request[header: WebhookSignature.header])
            #expect(WebhookSignature.verify(headerValue: signature, body: request.body, secret: Self.secret, now: Date()))
            var tampered = request.body
            tampered.append(contentsOf: Array(" ".utf8))
            #expect(!WebhookSignature.verify(headerValue: signature, body: tampered, secret: Self.secret, now: Date()))
            #expect(!WebhookSignature.verify(headerValue: signature, body: request.body, secret: "whsec_another_secret_000", now: Date()))
            // A captured request replayed ten minutes later is refused.
            #expect(!WebhookSignature.verify(headerValue: signature, body: request.body, secret: Self.secret,
                                             now: Date().addingTimeInterval(600)))
            // A header with an old timestamp, correctly signed, is refused too.
            let old = Int(Date().timeIntervalSince1970) - 3600
            let oldHeader = WebhookSignature.sign(body: request.body, secret: Self.secret, timestamp: old)
            #expect(!WebhookSignature.verify(headerValue: oldHeader, body: request.body, secret: Self.secret, now: Date()))
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aFailingEndpointIsRetriedWithBackoffAndTheDeliveryGoesDeadAfterMaxAttempts(engine: DatabaseEngine) async throws {
        var settings = WebhookSettings()
        settings.maxAttempts = 3
        try await Harness.run(engine, settings: settings) { h in
            h.receiver.script([], fallback: .init(status: 500, body: "oops"))
            let endpoint = try await h.webhooks.create(url: h.receiver.url, description: "", eventTypes: [], secret: nil)
            try await h.append("message.created")
            try await h.fanOut()
            #expect(try await h.runDue() == 1)
            var delivery = try #require(try await h.deliveries(endpoint).first)
            #expect(delivery.state == .retrying)
            #expect(delivery.lastStatus == 500)
            #expect(delivery.lastError == "HTTP 500")
            // The retry waits for its backoff (0.5 to 1 s after attempt 1, 1 to 2 s after attempt 2).
            #expect(try await h.runDue() == 0)
            h.clock.advance(by: 1.01)
            #expect(try await h.runDue() == 1)
            #expect(try await h.runDue() == 0)
            h.clock.advance(by: 2.01)
            #expect(try await h.runDue() == 1)
            delivery = try #require(try await h.deliveries(endpoint).first)
            #expect(delivery.state == .dead)
            #expect(delivery.attempts == 3)
            let job = try #require(try await h.jobs.job(uniqueKey: "webhook:\(delivery.id)"))
            #expect(job.state == .dead)
            h.clock.advance(by: 3600)
            #expect(try await h.runDue() == 0)
            #expect(h.receiver.received.map { $0[header: "Parley-Delivery-Attempt"] } == ["1", "2", "3"])
            #expect(Set(h.receiver.received.map { $0[header: "Parley-Delivery-Id"] }) == [delivery.id])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRealWorkerRetriesUntilTheEndpointRecovers(engine: DatabaseEngine) async throws {
        let settings = {
            var settings = WebhookSettings()
            settings.maxAttempts = 5
            settings.timeout = .seconds(5)
            return settings
        }()
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations, JobQueue.migrations, WebhookService.migrations]) {
            database in
            try await TestReceiver.run { receiver in
                receiver.script([.init(status: 503), .init(status: 502)], fallback: .init(status: 204, body: ""))
                let ids = SortableIDGenerator()
                let clock = SystemWallClock()
                let log = EventLog(database: database, ids: ids)
                let jobs = JobQueue(database: database, ids: ids, clock: clock, backoff: Backoff(base: 0.05, cap: 0.2))
                let webhooks = WebhookService(database: database, jobs: jobs, ids: ids, clock: clock, settings: settings)
                let endpoint = try await webhooks.create(url: receiver.url, description: "", eventTypes: ["message.*"], secret: nil)
                let runner = ConsumerRunner(log: log, consumers: [WebhookFanout(webhooks: webhooks)], database: database, clock: clock,
                                            logger: TestDatabases.logger, pollInterval: .milliseconds(50))
                let worker = JobWorker(queue: jobs, handlers: [WebhookDeliveryHandler(webhooks: webhooks, http: AsyncHTTPOutbound())],
                                       database: database, workerID: "worker-1", concurrency: 2, pollInterval: .milliseconds(50),
                                       logger: TestDatabases.logger)
                let background = Task {
                    await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await runner.run() }
                        group.addTask { try await worker.run() }
                        try? await group.waitForAll()
                    }
                }
                defer { background.cancel() }
                try await database.transaction { sql in
                    try await log.append(NewEvent(type: "message.created", actor: "user:a", subject: "c", payload: [:], occurredAt: Date()),
                                         on: sql)
                }
                let deadline = ContinuousClock.now + .seconds(30)
                var delivery: WebhookDelivery?
                while ContinuousClock.now < deadline {
                    delivery = try await webhooks.deliveries(endpoint: endpoint.id, state: .succeeded, page: try PageRequest()).items.first
                    // The worker completes the job just after the handler records the delivery.
                    if let done = delivery, try await jobs.job(uniqueKey: "webhook:\(done.id)")?.state == .completed { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                background.cancel()
                await background.value
                let done = try #require(delivery)
                #expect(done.attempts == 3)
                #expect(done.lastStatus == 204)
                #expect(receiver.received.map { $0[header: "Parley-Delivery-Attempt"] } == ["1", "2", "3"])
                #expect(try await jobs.job(uniqueKey: "webhook:\(done.id)")?.state == .completed)
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func anEndpointIsDisabledAfterConsecutiveFailuresAndReceivesNothingUntilReEnabled(engine: DatabaseEngine) async throws {
        var settings = WebhookSettings()
        settings.maxAttempts = 5
        settings.disableAfterFailures = 2
        try await Harness.run(engine, settings: settings) { h in
            h.receiver.script([], fallback: .init(status: 500))
            let endpoint = try await h.webhooks.create(url: h.receiver.url, description: "", eventTypes: [], secret: nil)
            try await h.append("message.created")
            try await h.append("message.edited")
            try await h.fanOut()
            #expect(try await h.runDue() == 2)
            let disabled = try await h.webhooks.endpoint(endpoint.id)
            #expect(!disabled.enabled)
            #expect(disabled.consecutiveFailures == 2)
            #expect(disabled.disabledReason?.contains("2 consecutive") == true)

            // Its waiting retries are skipped, and new events create no deliveries for it.
            h.clock.advance(by: 5)
            #expect(try await h.runDue() == 2)
            #expect(h.receiver.received.count == 2)
            #expect(try await h.deliveries(endpoint).map(\.state) == [.skipped, .skipped])
            try await h.append("message.recalled")
            try await h.fanOut()
            #expect(try await h.deliveries(endpoint).count == 2)
            await #expect(throws: ParleyError.endpointDisabled(endpoint.id)) {
                _ = try await h.webhooks.replay(endpoint: endpoint.id, from: Date(timeIntervalSince1970: 0), to: Date())
            }

            // Enabled again, with a clean slate, it receives the next event.
            let enabled = try await h.webhooks.update(endpoint.id, url: nil, description: nil, eventTypes: nil, enabled: true)
            #expect(enabled.enabled && enabled.consecutiveFailures == 0 && enabled.disabledReason == nil)
            h.receiver.script([], fallback: .init(status: 200))
            try await h.append("message.pinned")
            try await h.fanOut()
            #expect(try await h.runDue() == 1)
            #expect(h.receiver.received.last?[header: "Parley-Event-Type"] == "message.pinned")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func replayingADeliveryOrATimeRangeDeliversAgain(engine: DatabaseEngine) async throws {
        try await Harness.run(engine) { h in
            let base = h.clock.now()
            let early = try await h.append("message.created", at: base.addingTimeInterval(-3600))
            let middle = try await h.append("message.edited", at: base.addingTimeInterval(-1800))
            _ = try await h.append("message.recalled", at: base.addingTimeInterval(-60))
            try await h.fanOut()  // No endpoint yet: nothing to deliver.

            let endpoint = try await h.webhooks.create(url: h.receiver.url, description: "", eventTypes: [], secret: nil)
            #expect(try await h.deliveries(endpoint).isEmpty)
            // Backfill the first two events, which happened before the endpoint existed.
            let queued = try await h.webhooks.replay(endpoint: endpoint.id, from: base.addingTimeInterval(-7200),
                                                     to: base.addingTimeInterval(-1800))
            #expect(queued == 2)
            #expect(try await h.runDue() == 2)
            #expect(Set(h.receiver.received.compactMap { $0[header: "Parley-Event-Id"] }) == [early.id, middle.id])
            let delivered = try await h.deliveries(endpoint)
            #expect(delivered.map(\.state) == [.succeeded, .succeeded])

            // Replay one delivery: it is sent again from attempt 1.
            let first = try #require(delivered.first { $0.eventID == early.id })
            let replayed = try await h.webhooks.replay(delivery: first.id)
            #expect(replayed.state == .pending)
            #expect(replayed.attempts == 0)
            #expect(try await h.runDue() == 1)
            let last = try #require(h.receiver.received.last)
            #expect(last[header: "Parley-Event-Id"] == early.id)
            #expect(last[header: "Parley-Delivery-Id"] == first.id)
            #expect(last[header: "Parley-Delivery-Attempt"] == "1")
            #expect(try await h.webhooks.delivery(first.id).state == .succeeded)

            // Replaying the whole range again resends existing deliveries and creates the missing one.
            #expect(try await h.webhooks.replay(endpoint: endpoint.id, from: base.addingTimeInterval(-7200), to: base) == 3)
            #expect(try await h.runDue() == 3)
            #expect(h.receiver.received.count == 6)
            #expect(try await h.deliveries(endpoint).count == 3)

            await #expect(throws: ParleyError.self) {
                _ = try await h.webhooks.replay(endpoint: endpoint.id, from: base, to: base.addingTimeInterval(-1))
            }
            await #expect(throws: ParleyError.deliveryNotFound("whd_nope")) { _ = try await h.webhooks.replay(delivery: "whd_nope") }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func endpointsReceiveOnlyTheEventTypesTheySubscribedTo(engine: DatabaseEngine) async throws {
        try await Harness.run(engine) { h in
            let messages = try await h.webhooks.create(url: h.receiver.url("/messages"), description: "", eventTypes: ["message.*"], secret: nil)
            let users = try await h.webhooks.create(url: h.receiver.url("/users"), description: "", eventTypes: ["user.created"], secret: nil)
            let everything = try await h.webhooks.create(url: h.receiver.url("/all"), description: "", eventTypes: [], secret: nil)
            let mixed = try await h.webhooks.create(url: h.receiver.url("/mixed"), description: "",
                                                    eventTypes: ["conversation.created", "message.edited"], secret: nil)
            for type in ["message.created", "user.created", "user.updated", "conversation.created", "message.edited", "conversation.read"] {
                try await h.append(type)
            }
            try await h.fanOut()
            #expect(try await h.deliveries(messages).map(\.eventType) == ["message.created", "message.edited"])
            #expect(try await h.deliveries(users).map(\.eventType) == ["user.created"])
            #expect(try await h.deliveries(everything).count == 6)
            #expect(try await h.deliveries(mixed).map(\.eventType) == ["conversation.created", "message.edited"])
            #expect(try await h.runDue() == 11)
            let byPath = Dictionary(grouping: h.receiver.received, by: \.path).mapValues { $0.compactMap { $0[header: "Parley-Event-Type"] } }
            #expect(byPath["/messages"]?.sorted() == ["message.created", "message.edited"])
            #expect(byPath["/users"] == ["user.created"])
            #expect(byPath["/all"]?.count == 6)

            // Unknown types, and patterns that match no known type, are refused.
            for bad in [["message.nope"], ["nope.*"], ["message"], ["*"], [""]] {
                let error = await #expect(throws: ParleyError.self) {
                    _ = try await h.webhooks.create(url: h.receiver.url, description: "", eventTypes: bad, secret: nil)
                }
                #expect(error?.code == "request.invalid_field", "\(bad)")
            }
        }
    }
}
