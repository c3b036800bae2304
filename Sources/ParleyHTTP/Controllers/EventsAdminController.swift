import Events
import Foundation
import Hummingbird
import ParleyCore

/// The admin API over the Events context: the event log and its consumers, the job queue (inspect,
/// retry, discard) and webhook endpoints with their deliveries and replay. Every route needs an
/// API key of scope `admin`.
public struct EventsAdminController: Sendable {
    let events: EventLog
    let jobs: JobQueue
    let webhooks: WebhookService

    public init(events: EventLog, jobs: JobQueue, webhooks: WebhookService) {
        self.events = events
        self.jobs = jobs
        self.webhooks = webhooks
    }

    public func register(on routes: RouteTable) {
        registerLog(on: routes)
        registerJobs(on: routes)
        registerWebhooks(on: routes)
    }

    func registerLog(on routes: RouteTable) {
        routes.add(.get, "/v1/admin/events", policy: .apiKey(.admin)) { request, _ in
            let page = try request.pageRequest()
            var after = try request.integerQuery("after") ?? 0
            if let cursor = page.cursor {
                guard let position = Int64(try Cursor.decode(cursor)) else { throw ParleyError.invalidCursor() }
                after = position
            }
            guard after >= 0 else { throw ParleyError.invalidParameter("after", "must not be negative") }
            var types: Set<String>?
            if let raw = request.uri.queryParameters.get("type"), !raw.isEmpty {
                let names = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard names.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 100 }), names.count <= 50 else {
                    throw ParleyError.invalidParameter("type", "a comma-separated list of event types")
                }
                types = Set(names)
            }
            let batch = try await events.read(after: after, limit: page.limit, types: types)
            let next = batch.count == page.limit ? batch.last.map { Cursor.encode(String($0.position)) } : nil
            return try JSONBody.response(pageJSON(batch.map(EventsWire.event), nextCursor: next))
        }
        routes.add(.get, "/v1/admin/events/types", policy: .apiKey(.admin)) { _, _ in
            let items: [JSONValue] = EventCatalog.entries.map { .object(["type": .string($0.type), "description": .string($0.description)]) }
            return try JSONBody.response(JSONValue.object(["items": .array(items)]))
        }
        routes.add(.get, "/v1/admin/consumers", policy: .apiKey(.admin)) { _, _ in
            let head = try await events.headPosition()
            let items: [JSONValue] = try await events.consumers().map { consumer in
                .object([
                    "name": .string(consumer.name), "position": .int(Int(consumer.position)), "lag": .int(Int(consumer.lag)),
                    "updated_at": .string(Timestamp.format(consumer.updatedAt)),
                ])
            }
            return try JSONBody.response(JSONValue.object(["items": .array(items), "head_position": .int(Int(head))]))
        }
    }

    func registerJobs(on routes: RouteTable) {
        routes.add(.get, "/v1/admin/jobs", policy: .apiKey(.admin)) { request, _ in
            let page = try request.pageRequest()
            let state = try request.enumQuery("state", Job.State.self)
            let kind = request.uri.queryParameters.get("kind").flatMap { $0.isEmpty ? nil : $0 }
            let result = try await jobs.list(state: state, kind: kind, page: page)
            return try JSONBody.response(pageJSON(result.items.map(EventsWire.job), nextCursor: result.nextCursor))
        }
        routes.add(.get, "/v1/admin/jobs/stats", policy: .apiKey(.admin)) { _, _ in
            let counts = try await jobs.counts()
            var object: [String: JSONValue] = [:]
            for state in Job.State.allCases { object[state.rawValue] = .int(counts[state] ?? 0) }
            return try JSONBody.response(JSONValue.object(["counts": .object(object), "total": .int(counts.values.reduce(0, +))]))
        }
        routes.add(.get, "/v1/admin/jobs/{job_id}", policy: .apiKey(.admin)) { _, context in
            try JSONBody.response(EventsWire.job(try await job(context)))
        }
        routes.add(.post, "/v1/admin/jobs/{job_id}/retry", policy: .apiKey(.admin)) { _, context in
            let current = try await job(context)
            guard current.state != .running, try await jobs.retry(current.id) else {
                throw ParleyError.jobState(current.id, state: .running, action: "retried")
            }
            return try JSONBody.response(EventsWire.job(try await job(context)))
        }
        routes.add(.post, "/v1/admin/jobs/{job_id}/discard", policy: .apiKey(.admin)) { _, context in
            let current = try await job(context)
            guard [.available, .running, .dead].contains(current.state), try await jobs.discard(current.id) else {
                let now = try await job(context)
                throw ParleyError.jobState(now.id, state: now.state, action: "discarded")
            }
            return try JSONBody.response(EventsWire.job(try await job(context)))
        }
    }

    func job(_ context: ParleyRequestContext) async throws -> Job {
        let id = context.parameters.get("job_id") ?? ""
        guard let job = try await jobs.job(id) else { throw ParleyError.jobNotFound(id) }
        return job
    }
}

extension Request {
    /// An optional query parameter that must be one of an enumeration's raw values; empty counts as absent.
    func enumQuery<Value: RawRepresentable & CaseIterable>(_ name: String, _ type: Value.Type) throws(ParleyError) -> Value?
    where Value.RawValue == String {
        guard let raw = uri.queryParameters.get(name), !raw.isEmpty else { return nil }
        guard let value = Value(rawValue: raw) else {
            throw ParleyError.invalidParameter(name, "one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
