import Foundation
import Hummingbird
import Notifications
import ParleyCore

/// The user's side: inbox list, counts, marks, snooze, preferences and topics.
extension NotificationsController {
    struct SnoozeBody: RequestBody {
        static let fields: Set<String> = ["until"]
        let until: String
    }

    struct BulkBody: RequestBody {
        static let fields: Set<String> = ["action", "before", "category"]
        let action: String
        let before: String?
        let category: String?
    }

    struct PreferencesBody: RequestBody {
        static let fields: Set<String> = ["locale", "time_zone", "quiet_hours", "channels"]
        let locale: String?
        let time_zone: String?
        let quiet_hours: QuietBody?
        let channels: [String: [String: Bool]]?

        struct QuietBody: Decodable, Sendable {
            let start: String
            let end: String
        }
    }

    struct TopicsBody: RequestBody {
        static let fields: Set<String> = ["user_ids"]
        let user_ids: [String]
    }

    static func bool(_ raw: Substring?, parameter: String) throws(ParleyError) -> Bool? {
        guard let raw else { return nil }
        switch raw {
        case "true", "1": return true
        case "false", "0": return false
        default: throw ParleyError.invalidParameter(parameter, "true or false")
        }
    }

    func registerInboxRoutes(on routes: RouteTable) {
        routes.add(.get, "/v1/me/notifications", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let query = request.uri.queryParameters
            let archived: InboxFilter.Archived
            switch query["archived"].map(String.init) {
            case nil, "false": archived = .exclude
            case "true": archived = .only
            case "all": archived = .include
            default: throw ParleyError.invalidParameter("archived", "true, false or all")
            }
            let category = query["category"].map(String.init)
            if let category, category.isEmpty || category.utf8.count > 100 { throw ParleyError.invalidParameter("category", "1 to 100 characters") }
            let filter = InboxFilter(unreadOnly: try Self.bool(query["unread"], parameter: "unread") ?? false, category: category,
                                     archived: archived)
            let page = try await service.inbox(of: user, filter: filter, page: try request.pageRequest())
            return try JSONBody.response(JSONValue.object([
                "items": .array(page.items.map { NotificationsWire.entry($0, user: user, service: service) }),
                "next_cursor": page.nextCursor.map { .string($0) } ?? .null,
            ]))
        }
        routes.add(.get, "/v1/me/notifications/counts", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            return try JSONBody.response(NotificationsWire.counts(try await service.counts(of: user)))
        }
        for (action, mark) in [("read", InboxMark.read), ("seen", .seen), ("archive", .archived), ("unread", .unread),
                               ("unarchive", .unarchived)] {
            routes.add(.post, "/v1/me/notifications/{notification_id}/\(action)", policy: .userOrServer) { request, context in
                let user = try await actingUser(request, context)
                let entry = try await service.mark(try Self.parameter("notification_id", context), as: mark, user: user)
                return try JSONBody.response(NotificationsWire.entry(entry, user: user, service: service))
            }
        }
        routes.add(.post, "/v1/me/notifications/{notification_id}/snooze", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let body = try await request.decodeBody(SnoozeBody.self, context: context)
            guard let until = Timestamp.parse(body.until) else { throw ParleyError.invalidField("until", "an RFC 3339 timestamp") }
            let entry = try await service.snooze(try Self.parameter("notification_id", context), user: user, until: until)
            return try JSONBody.response(NotificationsWire.entry(entry, user: user, service: service))
        }
        routes.add(.post, "/v1/me/notifications/bulk", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let body = try await request.decodeBody(BulkBody.self, context: context)
            let mark: InboxMark = switch body.action {
            case "read": .read
            case "seen": .seen
            case "archive": .archived
            default: throw ParleyError.invalidField("action", "read, seen or archive")
            }
            let before = try body.before.map { raw throws(ParleyError) in
                guard let date = Timestamp.parse(raw) else { throw ParleyError.invalidField("before", "an RFC 3339 timestamp") }
                return date
            }
            let changed = try await service.markAll(as: mark, user: user, before: before, category: body.category)
            return try JSONBody.response(JSONValue.object([
                "changed": .int(changed), "counts": NotificationsWire.counts(try await service.counts(of: user)),
            ]))
        }
    }

    func registerPreferenceRoutes(on routes: RouteTable) {
        routes.add(.get, "/v1/me/notification-preferences", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            return try JSONBody.response(NotificationsWire.preferences(try await service.preferences(of: user),
                                                                       categories: try await service.categories()))
        }
        routes.add(.put, "/v1/me/notification-preferences", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let body = try await request.decodeBody(PreferencesBody.self, context: context)
            var channels: [String: [NotificationChannelKind: Bool]] = [:]
            for (category, switches) in body.channels ?? [:] {
                for (name, enabled) in switches {
                    guard let channel = NotificationChannelKind(rawValue: name) else {
                        throw ParleyError.invalidField("channels.\(category)", "'\(name)' is not a channel")
                    }
                    channels[category, default: [:]][channel] = enabled
                }
            }
            let quiet = try body.quiet_hours.map { quiet throws(ParleyError) in
                try QuietHours(start: try QuietHours.minutes(quiet.start, field: "quiet_hours.start"),
                               end: try QuietHours.minutes(quiet.end, field: "quiet_hours.end"))
            }
            let preferences = try await service.setPreferences(
                NotificationPreferences(locale: body.locale, timeZone: body.time_zone, quietHours: quiet, channels: channels), of: user
            )
            return try JSONBody.response(NotificationsWire.preferences(preferences, categories: try await service.categories()))
        }
        routes.add(.get, "/v1/me/notification-topics", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            return try JSONBody.response(JSONValue.object(["items": .array(try await service.topics(of: user).map { .string($0) })]))
        }
        routes.add(.put, "/v1/me/notification-topics/{topic}", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            try await service.subscribe([user], to: try Self.parameter("topic", context))
            return Response(status: .noContent)
        }
        routes.add(.delete, "/v1/me/notification-topics/{topic}", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            try await service.unsubscribe([user], from: try Self.parameter("topic", context))
            return Response(status: .noContent)
        }
        // The platform subscribes many users at once.
        routes.add(.post, "/v1/notification-topics/{topic}/subscribers", policy: .apiKey(.server)) { request, context in
            let body = try await request.decodeBody(TopicsBody.self, context: context)
            let ids = try body.user_ids.map { raw throws(ParleyError) in try UserID(validating: raw) }
            try await service.subscribe(ids, to: try Self.parameter("topic", context))
            return Response(status: .noContent)
        }
        routes.add(.post, "/v1/notification-topics/{topic}/unsubscribe", policy: .apiKey(.server)) { request, context in
            let body = try await request.decodeBody(TopicsBody.self, context: context)
            let ids = try body.user_ids.map { raw throws(ParleyError) in try UserID(validating: raw) }
            guard ids.count <= 1000 else { throw ParleyError.invalidField("user_ids", "at most 1000 per call") }
            try await service.unsubscribe(ids, from: try Self.parameter("topic", context))
            return Response(status: .noContent)
        }
    }
}
