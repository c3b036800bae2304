import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Notifications
import ParleyCore

/// The notifications API: the platform triggers (API key, `Idempotency-Key`), admins manage templates,
/// categories and the webhook channel, users read and mark their inbox, set preferences, follow topics and
/// stream notifications over SSE; tracked links count clicks and redirect.
///
/// User routes take a user token, or a server key acting for a user with `Parley-Act-As`.
public struct NotificationsController: Sendable {
    public static let idempotencyKeyHeader = HTTPField.Name("Idempotency-Key")!
    public static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!

    let service: NotificationService
    let configs: NotificationChannelConfigs
    let users: any UserStore
    let authenticator: Authenticator?
    let broadcaster: NotificationStreamBroadcaster
    let clock: any WallClock
    /// SSE comment lines keep proxies from closing an idle stream.
    let heartbeatInterval: Duration
    /// A stream ends after this long; the client reconnects with `Last-Event-ID` (bounds what one connection holds).
    let maxStreamDuration: Duration
    /// Push devices and email addresses; without it the device and email routes are not registered.
    let devices: PushDeviceRegistry?

    public init(service: NotificationService, configs: NotificationChannelConfigs, users: any UserStore, authenticator: Authenticator?,
                broadcaster: NotificationStreamBroadcaster, clock: any WallClock, heartbeatInterval: Duration = .seconds(25),
                maxStreamDuration: Duration = .seconds(1800), devices: PushDeviceRegistry? = nil) {
        self.service = service
        self.configs = configs
        self.users = users
        self.authenticator = authenticator
        self.broadcaster = broadcaster
        self.clock = clock
        self.heartbeatInterval = heartbeatInterval
        self.maxStreamDuration = maxStreamDuration
        self.devices = devices
    }

    public func register(on routes: RouteTable) {
        registerTriggerRoutes(on: routes)
        registerAdminRoutes(on: routes)
        registerInboxRoutes(on: routes)
        registerPreferenceRoutes(on: routes)
        registerStreamRoutes(on: routes)
        registerDeviceRoutes(on: routes)
    }

    // MARK: Trigger

    struct TriggerBody: RequestBody {
        static let fields: Set<String> = [
            "template", "recipients", "data", "category", "priority", "dedup_key", "dedup_window_seconds", "send_at", "digest",
        ]
        let template: String
        let recipients: JSONValue
        let data: [String: JSONValue]?
        let category: String?
        let priority: String?
        let dedup_key: String?
        let dedup_window_seconds: Int?
        let send_at: String?
        let digest: DigestBody?

        struct DigestBody: Decodable, Sendable {
            let key: String
            let window_seconds: Int
        }

        func request(defaultCategory: String) throws(ParleyError) -> TriggerRequest {
            let recipients: RecipientSpec
            switch self.recipients {
            case .string("all"):
                recipients = .all
            case .array(let values):
                var ids: [UserID] = []
                var seen: Set<UserID> = []
                for value in values {
                    guard case .string(let raw) = value else { throw ParleyError.invalidField("recipients", "user ids are strings") }
                    let id = try UserID(validating: raw)
                    if seen.insert(id).inserted { ids.append(id) }
                }
                recipients = .users(ids)
            case .object(let object) where object.count == 1:
                guard case .string(let topic)? = object["topic"] else {
                    throw ParleyError.invalidField("recipients", "a list of user ids, {\"topic\": name} or \"all\"")
                }
                recipients = .topic(topic)
            default:
                throw ParleyError.invalidField("recipients", "a list of user ids, {\"topic\": name} or \"all\"")
            }
            let priority = try priority.map { raw throws(ParleyError) in
                guard let value = NotificationPriority(rawValue: raw) else {
                    throw ParleyError.invalidField("priority", "one of low, normal, high, critical")
                }
                return value
            } ?? .normal
            if (dedup_key == nil) != (dedup_window_seconds == nil) {
                throw ParleyError.invalidField("dedup_key", "dedup_key and dedup_window_seconds go together")
            }
            let sendAt = try send_at.map { raw throws(ParleyError) in
                guard let date = Timestamp.parse(raw) else { throw ParleyError.invalidField("send_at", "an RFC 3339 timestamp") }
                return date
            }
            return TriggerRequest(
                templateKey: template, recipients: recipients, data: data ?? [:], category: category ?? defaultCategory, priority: priority,
                dedup: dedup_key.map { DedupSpec(key: $0, window: TimeInterval(dedup_window_seconds ?? 0)) },
                digest: digest.map { DigestSpec(key: $0.key, window: TimeInterval($0.window_seconds)) }, sendAt: sendAt
            )
        }
    }

    func registerTriggerRoutes(on routes: RouteTable) {
        routes.add(.post, "/v1/notifications", policy: .apiKey(.server)) { request, context in
            let key = request.headers[Self.idempotencyKeyHeader]
            if let key, key.isEmpty || key.utf8.count > 255 {
                throw ParleyError.invalidParameter("Idempotency-Key", "1 to 255 characters")
            }
            let body = try await request.decodeBody(TriggerBody.self, context: context)
            let trigger = try body.request(defaultCategory: service.settings.defaultCategory)
            let result = try await service.trigger(trigger, actor: try context.requirePrincipal().label, idempotencyKey: key)
            var response = try JSONBody.response(JSONValue.object([
                "id": .string(result.id), "status": .string(result.status.rawValue),
                "recipients": result.recipients.map { .int($0) } ?? .null,
            ]), status: .accepted)
            if result.replayed { response.headers[Self.replayedHeader] = "true" }
            return response
        }
    }

    // MARK: Admin

    struct TemplateBody: RequestBody {
        static let fields: Set<String> = ["title", "body", "action_url", "subject", "html", "text"]
        let title: String?
        let body: String?
        let action_url: String?
        let subject: String?
        let html: String?
        let text: String?

        var fields: [String: String] {
            var fields: [String: String] = [:]
            for (name, value) in [("title", title), ("body", body), ("action_url", action_url), ("subject", subject), ("html", html),
                                  ("text", text)] {
                if let value { fields[name] = value }
            }
            return fields
        }
    }

    struct CategoryBody: RequestBody {
        static let fields: Set<String> = ["description", "mandatory"]
        let description: String?
        let mandatory: Bool?
    }

    struct WebhookChannelBody: RequestBody {
        static let fields: Set<String> = ["url", "secret", "enabled"]
        let url: String
        let secret: String?
        let enabled: Bool?
    }

    static func channel(_ context: ParleyRequestContext) throws(ParleyError) -> NotificationChannelKind {
        guard let raw = context.parameters.get("channel"), let channel = NotificationChannelKind(rawValue: raw) else {
            throw ParleyError.invalidParameter("channel", "one of \(NotificationChannelKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return channel
    }

    static func parameter(_ name: String, _ context: ParleyRequestContext) throws(ParleyError) -> String {
        guard let value = context.parameters.get(name), !value.isEmpty, value.utf8.count <= 200 else {
            throw ParleyError.invalidParameter(name, "1 to 200 characters")
        }
        return value
    }

    func registerAdminRoutes(on routes: RouteTable) {
        let variant = "/v1/admin/notifications/templates/{key}/{channel}/{locale}"
        routes.add(.put, variant, policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(TemplateBody.self, context: context)
            let template = try await service.putTemplate(key: try Self.parameter("key", context), channel: try Self.channel(context),
                                                         locale: try Self.parameter("locale", context), fields: body.fields)
            return try JSONBody.response(NotificationsWire.template(template))
        }
        routes.add(.get, variant, policy: .apiKey(.admin)) { _, context in
            let template = try await service.template(key: try Self.parameter("key", context), channel: try Self.channel(context),
                                                      locale: try Self.parameter("locale", context))
            return try JSONBody.response(NotificationsWire.template(template))
        }
        routes.add(.delete, variant, policy: .apiKey(.admin)) { _, context in
            try await service.deleteTemplate(key: try Self.parameter("key", context), channel: try Self.channel(context),
                                             locale: try Self.parameter("locale", context))
            return Response(status: .noContent)
        }
        routes.add(.get, "/v1/admin/notifications/templates", policy: .apiKey(.admin)) { request, _ in
            let key = request.uri.queryParameters["key"].map(String.init)
            let templates = try await service.templates(key: key)
            return try JSONBody.response(JSONValue.object(["items": .array(templates.map(NotificationsWire.template))]))
        }
        routes.add(.put, "/v1/admin/notifications/categories/{category}", policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(CategoryBody.self, context: context)
            let category = try await service.putCategory(try Self.parameter("category", context), description: body.description ?? "",
                                                         mandatory: body.mandatory ?? false)
            return try JSONBody.response(NotificationsWire.category(category))
        }
        routes.add(.get, "/v1/admin/notifications/categories", policy: .apiKey(.admin)) { _, _ in
            try JSONBody.response(JSONValue.object(["items": .array(try await service.categories().map(NotificationsWire.category))]))
        }
        routes.add(.delete, "/v1/admin/notifications/categories/{category}", policy: .apiKey(.admin)) { _, context in
            try await service.deleteCategory(try Self.parameter("category", context))
            return Response(status: .noContent)
        }
        routes.add(.put, "/v1/admin/notifications/channels/webhook", policy: .apiKey(.admin)) { request, context in
            let body = try await request.decodeBody(WebhookChannelBody.self, context: context)
            let config = try await configs.setWebhook(url: body.url, secret: body.secret, enabled: body.enabled ?? true)
            return try JSONBody.response(JSONValue.object([
                "url": .string(config.url), "enabled": .bool(config.enabled), "secret": .string(config.secret),
                "updated_at": .string(Timestamp.format(config.updatedAt)),
            ]))
        }
        routes.add(.get, "/v1/admin/notifications/channels/webhook", policy: .apiKey(.admin)) { _, _ in
            guard let config = try await configs.webhook() else { throw ParleyError.channelNotConfigured("webhook") }
            return try JSONBody.response(JSONValue.object([
                "url": .string(config.url), "enabled": .bool(config.enabled), "updated_at": .string(Timestamp.format(config.updatedAt)),
            ]))
        }
        routes.add(.delete, "/v1/admin/notifications/channels/webhook", policy: .apiKey(.admin)) { _, _ in
            try await configs.deleteWebhook()
            return Response(status: .noContent)
        }
        routes.add(.get, "/v1/admin/notifications/{notification_id}", policy: .apiKey(.server)) { _, context in
            let record = try await service.record(try Self.parameter("notification_id", context))
            return try JSONBody.response(NotificationsWire.record(record))
        }
        routes.add(.get, "/v1/admin/notifications/{notification_id}/deliveries/{user_id}", policy: .apiKey(.server)) { _, context in
            let deliveries = try await service.deliveries(notificationID: try Self.parameter("notification_id", context),
                                                          user: try context.userIDParameter())
            return try JSONBody.response(JSONValue.object(["items": .array(deliveries.map(NotificationsWire.delivery))]))
        }
    }

    // MARK: Who the user is

    /// The user a user route acts for: the token's user, or the user a server key names with `Parley-Act-As`.
    func actingUser(_ request: Request, _ context: ParleyRequestContext) async throws -> UserID {
        try await ActingUser.require(request, context, users: users)
    }
}
