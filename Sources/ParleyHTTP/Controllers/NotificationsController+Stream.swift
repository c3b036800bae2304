import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Notifications
import ParleyCore

/// `GET /v1/notifications/stream` (Server-Sent Events) and the tracked-link redirect.
extension NotificationsController {
    public static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!

    func registerStreamRoutes(on routes: RouteTable) {
        // Anonymous at the route level: browsers' EventSource cannot set headers, so a token may come as `?token=`.
        routes.add(.get, "/v1/notifications/stream", policy: .anonymous) { request, context in
            let user = try await streamUser(request, context)
            let resumeFrom = request.headers[Self.lastEventIDHeader] ?? request.uri.queryParameters["last_event_id"].map(String.init)
            if let resumeFrom, resumeFrom.utf8.count > 300 || !resumeFrom.contains(":") {
                throw ParleyError.invalidParameter("Last-Event-ID", "an id this stream sent")
            }
            return stream(for: user, resumeFrom: resumeFrom)
        }
        routes.add(.get, "/v1/notifications/{notification_id}/click", policy: .anonymous) { request, context in
            let query = request.uri.queryParameters
            guard let rawUser = query["u"].map(String.init), let signature = query["sig"].map(String.init) else {
                throw ParleyError.invalidClickSignature()
            }
            let user = try UserID(validating: rawUser)
            let channel = try query["c"].map { raw throws(ParleyError) in
                guard let channel = NotificationChannelKind(rawValue: String(raw)) else { throw ParleyError.invalidParameter("c", "a channel") }
                return channel
            } ?? .inApp
            let target = try await service.click(notificationID: try Self.parameter("notification_id", context), user: user, channel: channel,
                                                 signature: signature)
            var headers = HTTPFields()
            headers[.location] = target
            headers[.cacheControl] = "no-store"
            return Response(status: .found, headers: headers)
        }
    }

    func streamUser(_ request: Request, _ context: ParleyRequestContext) async throws -> UserID {
        if let principal = context.principal {
            guard case .user(let id, _) = principal else { throw ParleyError.userTokenRequired() }
            return id
        }
        guard let token = request.uri.queryParameters["token"].map(String.init), !token.isEmpty, let authenticator else {
            throw ParleyError.missingCredentials()
        }
        guard case .user(let id, _) = try await authenticator.authenticate(bearer: token) else { throw ParleyError.userTokenRequired() }
        return id
    }

    /// The event stream: after `Last-Event-ID`, the inbox entries the client missed; then the current badge;
    /// then live `notification` and `badge` events, with a heartbeat comment every `heartbeatInterval`.
    /// Each `notification` event's id is its inbox position, so a reconnecting client resumes exactly after it.
    func stream(for user: UserID, resumeFrom: String?) -> Response {
        let service = self.service
        let broadcaster = self.broadcaster
        // Subscribe before reading the backlog, so nothing committed in between is missed (duplicates are skipped by position).
        let subscription = broadcaster.subscribe(user)
        let heartbeat = Task { [heartbeatInterval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeatInterval)
                if Task.isCancelled { break }
                subscription.continuation.yield(.heartbeat)
            }
        }
        let deadline = Task { [maxStreamDuration] in
            try? await Task.sleep(for: maxStreamDuration)
            broadcaster.unsubscribe(user, id: subscription.id)
        }
        subscription.continuation.onTermination = { _ in
            heartbeat.cancel()
            deadline.cancel()
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let body = ResponseBody { writer in
            defer { broadcaster.unsubscribe(user, id: subscription.id) }
            try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
            var last: (Date, String)?
            if let resumeFrom {
                var position = resumeFrom
                while true {
                    let missed = try await service.inbox(of: user, after: position, limit: 200)
                    for entry in missed {
                        try await writer.write(ByteBuffer(string: Self.event("notification", id: entry.position,
                                                                             NotificationsWire.entry(entry, user: user, service: service))))
                        last = (entry.visibleAt, entry.notificationID)
                        position = entry.position
                    }
                    if missed.count < 200 { break }
                }
            }
            try await writer.write(ByteBuffer(string: Self.event("badge", id: nil, NotificationsWire.counts(try await service.counts(of: user)))))
            for await item in subscription.stream {
                switch item {
                case .heartbeat:
                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                case .frame(.notification(let entry)):
                    if let last, (entry.visibleAt, entry.notificationID) <= last { continue }
                    last = (entry.visibleAt, entry.notificationID)
                    try await writer.write(ByteBuffer(string: Self.event("notification", id: entry.position,
                                                                         NotificationsWire.entry(entry, user: user, service: service))))
                case .frame(.badge(let counts)):
                    try await writer.write(ByteBuffer(string: Self.event("badge", id: nil, NotificationsWire.counts(counts))))
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static func event(_ name: String, id: String?, _ data: JSONValue) -> String {
        var text = ""
        if let id { text += "id: \(id)\n" }
        text += "event: \(name)\ndata: \((try? data.jsonText()) ?? "{}")\n\n"
        return text
    }
}
