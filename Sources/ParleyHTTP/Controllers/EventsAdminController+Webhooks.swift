import Events
import Foundation
import Hummingbird
import ParleyCore

/// Webhook endpoints, their deliveries, and replay.
extension EventsAdminController {
    struct CreateWebhookBody: RequestBody {
        static let fields: Set<String> = ["url", "description", "event_types", "secret"]
        let url: String
        let description: String?
        let event_types: [String]?
        let secret: String?
    }

    struct UpdateWebhookBody: RequestBody {
        static let fields: Set<String> = ["url", "description", "event_types", "enabled"]
        let url: String?
        let description: String?
        let event_types: [String]?
        let enabled: Bool?
    }

    struct ReplayBody: RequestBody {
        static let fields: Set<String> = ["from", "to"]
        let from: String
        let to: String
    }

    func registerWebhooks(on routes: RouteTable) {
        let endpoint = "/v1/admin/webhooks/{endpoint_id}"
        routes.add(.post, "/v1/admin/webhooks", policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(CreateWebhookBody.self, context: context)
            let created = try await webhooks.create(url: body.url, description: body.description ?? "", eventTypes: body.event_types ?? [],
                                                    secret: body.secret)
            return try JSONBody.response(EventsWire.endpoint(created, includeSecret: true), status: .created)
        }
        routes.add(.get, "/v1/admin/webhooks", policy: .apiKey(.admin)) { _, _ in
            let items = try await webhooks.endpoints().map { EventsWire.endpoint($0) }
            return try JSONBody.response(JSONValue.object(["items": .array(items)]))
        }
        routes.add(.get, endpoint, policy: .apiKey(.admin)) { _, context in
            try JSONBody.response(EventsWire.endpoint(try await webhooks.endpoint(context.endpointID)))
        }
        routes.add(.patch, endpoint, policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(UpdateWebhookBody.self, context: context)
            let updated = try await webhooks.update(context.endpointID, url: body.url, description: body.description,
                                                    eventTypes: body.event_types, enabled: body.enabled)
            return try JSONBody.response(EventsWire.endpoint(updated))
        }
        routes.add(.delete, endpoint, policy: .apiKey(.admin)) { _, context in
            try await webhooks.delete(context.endpointID)
            return Response(status: .noContent)
        }
        routes.add(.get, "\(endpoint)/deliveries", policy: .apiKey(.admin)) { request, context in
            let page = try request.pageRequest()
            let state = try request.enumQuery("state", WebhookDelivery.State.self)
            let result = try await webhooks.deliveries(endpoint: context.endpointID, state: state, page: page)
            return try JSONBody.response(pageJSON(result.items.map(EventsWire.delivery), nextCursor: result.nextCursor))
        }
        routes.add(.post, "/v1/admin/webhooks/deliveries/{delivery_id}/replay", policy: .apiKey(.admin)) { _, context in
            let id = context.parameters.get("delivery_id") ?? ""
            return try JSONBody.response(EventsWire.delivery(try await webhooks.replay(delivery: id)))
        }
        routes.add(.post, "\(endpoint)/replay", policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(ReplayBody.self, context: context)
            guard let from = Timestamp.parse(body.from) else { throw ParleyError.invalidField("from", "an RFC 3339 timestamp") }
            guard let to = Timestamp.parse(body.to) else { throw ParleyError.invalidField("to", "an RFC 3339 timestamp") }
            let queued = try await webhooks.replay(endpoint: context.endpointID, from: from, to: to)
            return try JSONBody.response(JSONValue.object(["queued": .int(queued)]))
        }
    }
}

extension ParleyRequestContext {
    var endpointID: String { parameters.get("endpoint_id") ?? "" }
}
