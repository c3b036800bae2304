import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The events admin API (event log, consumers, jobs, webhooks) over the real router, on every engine.
@Suite struct EventsAdminAPITests {
    func ids(_ value: JSONValue?, _ key: String = "id") -> [String] {
        guard case .array(let items)? = value?["items"] else { return [] }
        return items.compactMap { $0[key]?.stringValue }
    }

    @Test(arguments: TestDatabases.engines)
    func theEventLogIsReadOldestFirstWithACursorAndATypeFilter(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            for id in ["u1", "u2", "u3"] {
                _ = try await client.json(.put, "/v1/users/\(id)", bearer: app.serverKey, body: ["name": .string(id)])
            }
            _ = try await client.json(.post, "/v1/users/u2/deactivate", bearer: app.serverKey)
            let first = try await client.json(.get, "/v1/admin/events?limit=2", bearer: app.adminKey)
            #expect(first.status == .ok)
            #expect(ids(first.body, "subject").count == 2)
            #expect(ids(first.body, "type") == ["user.created", "user.created"])
            let event = try #require(first.body["items"].flatMap { if case .array(let items) = $0 { items.first } else { nil } })
            #expect(event["occurred_at"]?.stringValue.flatMap(Timestamp.parse) != nil)
            #expect(event["payload"]?.objectValue != nil)
            #expect(event["position"]?.intValue != nil)
            let cursor = try #require(first.body["next_cursor"]?.stringValue)
            let rest = try await client.json(.get, "/v1/admin/events?limit=10&cursor=\(cursor)", bearer: app.adminKey)
            #expect(ids(rest.body, "type") == ["user.created", "user.deactivated"])
            #expect(rest.body["next_cursor"] == .null)

            let filtered = try await client.json(.get, "/v1/admin/events?type=user.deactivated,user.reactivated", bearer: app.adminKey)
            #expect(ids(filtered.body, "type") == ["user.deactivated"])
            let position = try #require(event["position"]?.intValue)
            let after = try await client.json(.get, "/v1/admin/events?after=\(position)", bearer: app.adminKey)
            #expect(ids(after.body, "type").count == 3)

            for bad in ["after=-1", "after=x", "limit=0", "limit=500", "cursor=%25%25"] {
                let refused = try await client.json(.get, "/v1/admin/events?\(bad)", bearer: app.adminKey)
                #expect(refused.status == .badRequest, "\(bad)")
                #expect(refused.errorCode?.hasPrefix("request.") == true, "\(bad): \(refused.body)")
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theCatalogListsEveryEventTypeAndConsumersShowTheirLag(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let types = try await client.json(.get, "/v1/admin/events/types", bearer: app.adminKey)
            #expect(types.status == .ok)
            let listed = Set(ids(types.body, "type"))
            #expect(listed.count == EventCatalog.entries.count)
            #expect(listed.isSuperset(of: ["user.created", "user.connected", "conversation.read", "message.created", "message.unpinned"]))
            #expect(ids(types.body, "description").allSatisfy { !$0.isEmpty })

            let empty = try await client.json(.get, "/v1/admin/consumers", bearer: app.adminKey)
            #expect(empty.body["items"] == .array([]))
            _ = try await client.json(.put, "/v1/users/u1", bearer: app.serverKey, body: ["name": "U"])
            try await app.services.events.commit(consumer: "webhooks", position: 0, at: Date())
            let consumers = try await client.json(.get, "/v1/admin/consumers", bearer: app.adminKey)
            #expect(ids(consumers.body, "name") == ["webhooks"])
            let consumer = try #require(consumers.body["items"].flatMap { if case .array(let items) = $0 { items.first } else { nil } })
            #expect(consumer["position"] == 0)
            #expect(consumer["lag"] == 1)
            #expect(consumer["updated_at"]?.stringValue.flatMap(Timestamp.parse) != nil)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func jobsAreListedCountedRetriedAndDiscarded(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let jobs = app.services.jobs
            let created = try await jobs.enqueue([
                NewJob(kind: "test.a", payload: ["n": 1], maxAttempts: 1), NewJob(kind: "test.a", payload: ["n": 2]),
                NewJob(kind: "test.b", payload: ["n": 3]),
            ])
            let running = try #require(try await jobs.claim(kinds: ["test.a"], limit: 1, worker: "w", lease: 600).first)
            #expect(running.id == created[0])

            let all = try await client.json(.get, "/v1/admin/jobs", bearer: app.adminKey)
            #expect(all.status == .ok)
            #expect(ids(all.body) == created.reversed())
            #expect(all.body["next_cursor"] == .null)
            let page = try await client.json(.get, "/v1/admin/jobs?kind=test.a&state=available&limit=1", bearer: app.adminKey)
            #expect(ids(page.body) == [created[1]])
            let stats = try await client.json(.get, "/v1/admin/jobs/stats", bearer: app.adminKey)
            #expect(stats.body["counts"]?["available"] == 2)
            #expect(stats.body["counts"]?["running"] == 1)
            #expect(stats.body["counts"]?["dead"] == 0)
            #expect(stats.body["total"] == 3)

            let one = try await client.json(.get, "/v1/admin/jobs/\(created[0])", bearer: app.adminKey)
            #expect(one.body["state"] == "running")
            #expect(one.body["locked_by"] == "w")
            #expect(one.body["completed_at"] == .null)
            #expect(one.body["unique_key"] == .null)
            #expect(one.body["payload"] == ["n": 1])

            let busy = try await client.json(.post, "/v1/admin/jobs/\(created[0])/retry", bearer: app.adminKey)
            #expect(busy.status == .conflict)
            #expect(busy.errorCode == "jobs.invalid_state")
            #expect(try await jobs.fail(running, error: "boom") == .dead)
            let dead = try await client.json(.get, "/v1/admin/jobs?state=dead", bearer: app.adminKey)
            #expect(ids(dead.body) == [created[0]])
            let retried = try await client.json(.post, "/v1/admin/jobs/\(created[0])/retry", bearer: app.adminKey)
            #expect(retried.status == .ok)
            #expect(retried.body["state"] == "available")
            #expect(retried.body["attempt"] == 0)
            #expect(retried.body["last_error"] == "boom")

            let discarded = try await client.json(.post, "/v1/admin/jobs/\(created[2])/discard", bearer: app.adminKey)
            #expect(discarded.body["state"] == "discarded")
            let again = try await client.json(.post, "/v1/admin/jobs/\(created[2])/discard", bearer: app.adminKey)
            #expect(again.status == .conflict)
            #expect(again.errorCode == "jobs.invalid_state")

            for path in ["/v1/admin/jobs/j_nope", "/v1/admin/jobs/j_nope/retry", "/v1/admin/jobs/j_nope/discard"] {
                let missing = try await client.json(path.hasSuffix("nope") ? .get : .post, path, bearer: app.adminKey)
                #expect(missing.status == .notFound, "\(path)")
                #expect(missing.errorCode == "jobs.job_not_found", "\(path)")
            }
            let badState = try await client.json(.get, "/v1/admin/jobs?state=stuck", bearer: app.adminKey)
            #expect(badState.status == .badRequest)
            #expect(badState.errorCode == "request.invalid_parameter")
            let badCursor = try await client.json(.get, "/v1/admin/jobs?cursor=!!", bearer: app.adminKey)
            #expect(badCursor.errorCode == "request.invalid_cursor")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func webhookEndpointsAreManagedAndTheirSecretIsShownOnce(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let created = try await client.json(.post, "/v1/admin/webhooks", bearer: app.adminKey, body: [
                "url": "https://crm.example.com/parley", "description": "CRM", "event_types": ["message.*", "user.created"],
            ])
            #expect(created.status == .created)
            let id = try #require(created.body["id"]?.stringValue)
            #expect(created.body["secret"]?.stringValue?.hasPrefix("whsec_") == true)
            #expect(created.body["enabled"] == true)
            #expect(created.body["disabled_reason"] == .null)
            #expect(created.body["event_types"] == ["message.*", "user.created"])

            let listed = try await client.json(.get, "/v1/admin/webhooks", bearer: app.adminKey)
            #expect(ids(listed.body) == [id])
            let fetched = try await client.json(.get, "/v1/admin/webhooks/\(id)", bearer: app.adminKey)
            #expect(fetched.body["secret"] == nil)
            #expect(fetched.body["url"] == "https://crm.example.com/parley")

            let disabled = try await client.json(.patch, "/v1/admin/webhooks/\(id)", bearer: app.adminKey,
                                                 body: ["enabled": false, "event_types": ["conversation.*"]])
            #expect(disabled.status == .ok)
            #expect(disabled.body["enabled"] == false)
            #expect(disabled.body["disabled_reason"] == "disabled by an operator")
            #expect(disabled.body["event_types"] == ["conversation.*"])
            let enabled = try await client.json(.patch, "/v1/admin/webhooks/\(id)", bearer: app.adminKey, body: ["enabled": true])
            #expect(enabled.body["enabled"] == true)
            #expect(enabled.body["disabled_reason"] == .null)

            let deleted = try await client.json(.delete, "/v1/admin/webhooks/\(id)", bearer: app.adminKey)
            #expect(deleted.status == .noContent)
            let gone = try await client.json(.get, "/v1/admin/webhooks/\(id)", bearer: app.adminKey)
            #expect(gone.status == .notFound)
            #expect(gone.errorCode == "webhooks.endpoint_not_found")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func badWebhookInputsAreRefusedWithTheirCodes(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let cases: [(JSONValue, String)] = [
                (["description": "no url"], "request.missing_field"),
                (["url": "ftp://example.com"], "request.invalid_field"),
                (["url": "not a url"], "request.invalid_field"),
                (["url": "https://x.test", "event_types": ["message.nope"]], "request.invalid_field"),
                (["url": "https://x.test", "event_types": ["nope.*"]], "request.invalid_field"),
                (["url": "https://x.test", "event_types": "message.created"], "request.invalid_field"),
                (["url": "https://x.test", "secret": "short"], "request.invalid_field"),
                (["url": "https://x.test", "colour": "blue"], "request.unknown_field"),
            ]
            for (body, code) in cases {
                let refused = try await client.json(.post, "/v1/admin/webhooks", bearer: app.adminKey, body: body)
                #expect(refused.status == .badRequest, "\(body)")
                #expect(refused.errorCode == code, "\(body): \(refused.body)")
            }
            let created = try await client.json(.post, "/v1/admin/webhooks", bearer: app.adminKey, body: ["url": "http://127.0.0.1:9/hook"])
            let id = try #require(created.body["id"]?.stringValue)
            let badPatch = try await client.json(.patch, "/v1/admin/webhooks/\(id)", bearer: app.adminKey, body: ["enabled": "yes"])
            #expect(badPatch.errorCode == "request.invalid_field")
            let unknownPatch = try await client.json(.patch, "/v1/admin/webhooks/wh_nope", bearer: app.adminKey, body: ["enabled": true])
            #expect(unknownPatch.errorCode == "webhooks.endpoint_not_found")
            #expect(try await client.json(.delete, "/v1/admin/webhooks/wh_nope", bearer: app.adminKey).status == .notFound)

            // Replay: RFC 3339 both ends, from before to, a known endpoint.
            let replay = "/v1/admin/webhooks/\(id)/replay"
            let badFrom = try await client.json(.post, replay, bearer: app.adminKey, body: ["from": "yesterday", "to": "2026-01-01T00:00:00Z"])
            #expect(badFrom.status == .badRequest)
            #expect(badFrom.errorCode == "request.invalid_field")
            #expect(badFrom.body["error"]?["details"]?["field"] == "from")
            let badTo = try await client.json(.post, replay, bearer: app.adminKey, body: ["from": "2026-01-01T00:00:00Z", "to": "2026-13-01T00:00:00Z"])
            #expect(badTo.body["error"]?["details"]?["field"] == "to")
            let backwards = try await client.json(.post, replay, bearer: app.adminKey,
                                                  body: ["from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"])
            #expect(backwards.status == .badRequest)
            #expect(backwards.errorCode == "request.invalid_field")
            let missing = try await client.json(.post, replay, bearer: app.adminKey, body: ["from": "2026-01-01T00:00:00Z"])
            #expect(missing.errorCode == "request.missing_field")
            let unknown = try await client.json(.post, "/v1/admin/webhooks/wh_nope/replay", bearer: app.adminKey,
                                                body: ["from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"])
            #expect(unknown.status == .notFound)
            #expect(unknown.errorCode == "webhooks.endpoint_not_found")
            let noDelivery = try await client.json(.post, "/v1/admin/webhooks/deliveries/whd_nope/replay", bearer: app.adminKey)
            #expect(noDelivery.status == .notFound)
            #expect(noDelivery.errorCode == "webhooks.delivery_not_found")
            let noEndpointDeliveries = try await client.json(.get, "/v1/admin/webhooks/wh_nope/deliveries", bearer: app.adminKey)
            #expect(noEndpointDeliveries.errorCode == "webhooks.endpoint_not_found")
            let badState = try await client.json(.get, "/v1/admin/webhooks/\(id)/deliveries?state=lost", bearer: app.adminKey)
            #expect(badState.errorCode == "request.invalid_parameter")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func deliveriesAreListedAndReplayedThroughTheAPI(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let created = try await client.json(.post, "/v1/admin/webhooks", bearer: app.adminKey,
                                                body: ["url": "http://127.0.0.1:9/hook", "event_types": ["user.*"]])
            let id = try #require(created.body["id"]?.stringValue)
            let start = Timestamp.format(Date().addingTimeInterval(-60))
            for user in ["u1", "u2", "u3"] {
                _ = try await client.json(.put, "/v1/users/\(user)", bearer: app.serverKey, body: ["name": .string(user)])
            }
            // Run the webhook fan-out consumer once, as the background service would.
            let runner = ConsumerRunner(log: app.services.events, consumers: [], database: app.services.database, clock: app.services.clock,
                                        logger: TestDatabases.logger)
            while try await runner.step(WebhookFanout(webhooks: app.services.webhooks)) {}

            let first = try await client.json(.get, "/v1/admin/webhooks/\(id)/deliveries?limit=2", bearer: app.adminKey)
            #expect(ids(first.body).count == 2)
            #expect(ids(first.body, "state") == ["pending", "pending"])
            let cursor = try #require(first.body["next_cursor"]?.stringValue)
            let second = try await client.json(.get, "/v1/admin/webhooks/\(id)/deliveries?limit=2&cursor=\(cursor)", bearer: app.adminKey)
            #expect(ids(second.body).count == 1)
            let delivery = try #require(first.body["items"].flatMap { if case .array(let items) = $0 { items.first } else { nil } })
            #expect(delivery["last_status"] == .null)
            #expect(delivery["last_attempt_at"] == .null)
            #expect(delivery["event_type"] == "user.created")
            let pending = try await client.json(.get, "/v1/admin/webhooks/\(id)/deliveries?state=pending", bearer: app.adminKey)
            #expect(ids(pending.body).count == 3)
            let succeeded = try await client.json(.get, "/v1/admin/webhooks/\(id)/deliveries?state=succeeded", bearer: app.adminKey)
            #expect(ids(succeeded.body).isEmpty)

            let deliveryID = try #require(delivery["id"]?.stringValue)
            let replayed = try await client.json(.post, "/v1/admin/webhooks/deliveries/\(deliveryID)/replay", bearer: app.adminKey)
            #expect(replayed.status == .ok)
            #expect(replayed.body["state"] == "pending")
            let range = try await client.json(.post, "/v1/admin/webhooks/\(id)/replay", bearer: app.adminKey,
                                              body: ["from": .string(start), "to": .string(Timestamp.format(Date().addingTimeInterval(60)))])
            #expect(range.status == .ok)
            #expect(range.body["queued"] == 3)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func onlyAdminKeysMayUseTheEventsAdminAPI(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let token = try await app.userToken("alice", roles: ["admin"], client: client)
            for (method, path) in [(HTTPRequest.Method.get, "/v1/admin/events"), (.get, "/v1/admin/consumers"), (.get, "/v1/admin/jobs/stats"),
                                   (.get, "/v1/admin/webhooks"), (.post, "/v1/admin/jobs/j_x/retry")] {
                let server = try await client.json(method, path, bearer: app.serverKey)
                #expect(server.status == .forbidden, "\(path)")
                #expect(server.errorCode == "auth.insufficient_scope", "\(path)")
                let user = try await client.json(method, path, bearer: token)
                #expect(user.status == .forbidden, "\(path)")
                let anonymous = try await client.json(method, path)
                #expect(anonymous.status == .unauthorized, "\(path)")
            }
        }
    }
}
