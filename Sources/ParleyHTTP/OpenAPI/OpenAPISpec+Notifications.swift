import Notifications
import ParleyCore

/// The documented routes of `NotificationsController`.
extension OpenAPIBuilder {
    public mutating func addNotifications() {
        let page: [(name: String, type: String, description: String)] = [
            ("limit", "integer", "1 to 200, default 50"), ("cursor", "string", "next_cursor of the previous page"),
        ]
        func op(
            _ method: String, _ path: String, _ summary: String, security: OpenAPIOperation.Security, request: String? = nil,
            query: [(name: String, type: String, description: String)] = [], _ responses: [(Int, String, String?)]
        ) -> OpenAPIOperation {
            OpenAPIOperation(method, path, tag: "notifications", summary: summary, security: security, request: request, query: query,
                             responses: responses.map { (status: $0.0, description: $0.1, schema: $0.2) })
        }
        let variant = "/v1/admin/notifications/templates/{key}/{channel}/{locale}"
        let actAs = " (user token, or API key with Parley-Act-As)"
        var operations = [
            op("POST", "/v1/notifications", "Trigger a notification to users, a topic or everyone. Send an Idempotency-Key header: a replay "
               + "answers the first response (Idempotent-Replayed: true); the same key with another body is 409 notifications.idempotency_conflict. "
               + "A template variable missing from data is 422 notifications.missing_variable. (API key, scope server)",
               security: .apiKey, request: "NotificationTrigger", [(202, "Accepted", "NotificationTriggerResult")]),
            op("GET", "/v1/admin/notifications/{notification_id}", "A notification's state and how many recipients it reached. (API key)",
               security: .apiKey, [(200, "The notification", "Notification")]),
            op("GET", "/v1/admin/notifications/{notification_id}/deliveries/{user_id}",
               "Every channel's delivery state of a notification for one user. (API key)", security: .apiKey,
               [(200, "The deliveries", "NotificationDeliveryList")]),
            op("PUT", variant, "Create or replace a template variant (channel in_app, email, push or webhook; Mustache). (API key, scope admin)",
               security: .apiKey, request: "NotificationTemplateFields", [(200, "The template", "NotificationTemplate")]),
            op("GET", variant, "One template variant. (API key, scope admin)", security: .apiKey, [(200, "The template", "NotificationTemplate")]),
            op("DELETE", variant, "Delete a template variant. (API key, scope admin)", security: .apiKey, [(204, "Deleted", nil)]),
            op("GET", "/v1/admin/notifications/templates", "Every template variant, optionally of one key. (API key, scope admin)",
               security: .apiKey, query: [("key", "string", "only this template key")], [(200, "The templates", "NotificationTemplateList")]),
            op("PUT", "/v1/admin/notifications/categories/{category}", "Create or change a category; mandatory ones cannot be turned off. "
               + "(API key, scope admin)", security: .apiKey, request: "NotificationCategoryWrite", [(200, "The category", "NotificationCategory")]),
            op("GET", "/v1/admin/notifications/categories", "Every category. (API key, scope admin)", security: .apiKey,
               [(200, "The categories", "NotificationCategoryList")]),
            op("DELETE", "/v1/admin/notifications/categories/{category}", "Delete a category (not the default). (API key, scope admin)",
               security: .apiKey, [(204, "Deleted", nil)]),
            op("PUT", "/v1/admin/notifications/channels/webhook", "Configure the webhook channel: the URL each (notification, user) is "
               + "POSTed to, signed with Parley-Signature. (API key, scope admin)", security: .apiKey, request: "NotificationWebhookChannel",
               [(200, "The configuration, with its secret", "NotificationWebhookChannelConfig")]),
            op("GET", "/v1/admin/notifications/channels/webhook", "The webhook channel's configuration (without its secret). (API key, scope admin)",
               security: .apiKey, [(200, "The configuration", "NotificationWebhookChannelConfig")]),
            op("DELETE", "/v1/admin/notifications/channels/webhook", "Remove the webhook channel. (API key, scope admin)", security: .apiKey,
               [(204, "Removed", nil)]),
            op("GET", "/v1/me/notifications", "The inbox, newest first" + actAs + ".", security: .either,
               query: [("unread", "boolean", "only unread entries"), ("category", "string", "only this category"),
                       ("archived", "string", "false (default), true or all")] + page,
               [(200, "A page of entries", "NotificationInboxPage")]),
            op("GET", "/v1/me/notifications/counts", "Unread, unseen and total counts, overall and by category" + actAs + ".", security: .either,
               [(200, "The counts", "NotificationCounts")]),
            op("POST", "/v1/me/notifications/{notification_id}/snooze", "Hide an entry until a time; it then returns unread" + actAs + ".",
               security: .either, request: "NotificationSnooze", [(200, "The entry", "NotificationEntry")]),
            op("POST", "/v1/me/notifications/bulk", "Mark every entry up to a time (default now) read, seen or archived" + actAs + ".",
               security: .either, request: "NotificationBulkMark", [(200, "How many changed, and the counts", "NotificationBulkResult")]),
            op("GET", "/v1/me/notification-preferences", "The user's locale, time zone, quiet hours and category × channel switches" + actAs + ".",
               security: .either, [(200, "The preferences", "NotificationPreferences")]),
            op("PUT", "/v1/me/notification-preferences", "Replace the user's preferences; a mandatory category cannot be turned off" + actAs + ".",
               security: .either, request: "NotificationPreferencesWrite", [(200, "The preferences", "NotificationPreferences")]),
            op("GET", "/v1/me/notification-topics", "The topics the user follows" + actAs + ".", security: .either,
               [(200, "The topics", "NotificationTopicList")]),
            op("PUT", "/v1/me/notification-topics/{topic}", "Follow a topic" + actAs + ".", security: .either, [(204, "Subscribed", nil)]),
            op("DELETE", "/v1/me/notification-topics/{topic}", "Stop following a topic" + actAs + ".", security: .either,
               [(204, "Unsubscribed", nil)]),
            op("POST", "/v1/notification-topics/{topic}/subscribers", "Subscribe up to 1,000 users to a topic. (API key, scope server)",
               security: .apiKey, request: "NotificationTopicUsers", [(204, "Subscribed", nil)]),
            op("POST", "/v1/notification-topics/{topic}/unsubscribe", "Unsubscribe up to 1,000 users from a topic. (API key, scope server)",
               security: .apiKey, request: "NotificationTopicUsers", [(204, "Unsubscribed", nil)]),
            op("GET", "/v1/notifications/stream", "Server-Sent Events (text/event-stream): `notification` events (id = inbox position) and "
               + "`badge` events, a heartbeat comment every 25 s; Last-Event-ID (or ?last_event_id=) resumes from the inbox. "
               + "User token in Authorization or ?token=.", security: .userToken,
               query: [("token", "string", "a user token, for EventSource"), ("last_event_id", "string", "resume after this event id")],
               [(200, "The event stream", nil)]),
            op("GET", "/v1/notifications/{notification_id}/click", "A tracked link: verifies the signature, records the click and redirects "
               + "to the action URL.", security: .none,
               query: [("u", "string", "the user id"), ("c", "string", "the channel (default in_app)"), ("sig", "string", "the link's HMAC")],
               [(302, "Redirect to the action URL", nil)]),
        ]
        operations += [
            op("POST", "/v1/me/push-devices", "Register (or refresh) a phone app install: an APNs device token (hex) or an FCM registration "
               + "token. A token registered by another user moves to this one; a user keeps at most 20 devices" + actAs + ".",
               security: .either, request: "PushDeviceRegistration", [(201, "The device", "PushDevice")]),
            op("POST", "/v1/me/push-subscriptions", "Register a browser's Web Push subscription (PushSubscription.toJSON()); the endpoint must "
               + "belong to a browser push service" + actAs + ".", security: .either, request: "WebPushSubscription",
               [(201, "The device", "PushDevice")]),
            op("GET", "/v1/me/push-devices", "The user's devices and subscriptions, newest first" + actAs + ".", security: .either,
               [(200, "The devices", "PushDeviceList")]),
            op("DELETE", "/v1/me/push-devices/{device_id}", "Forget one of the user's devices (404 notifications.device_not_found when it is "
               + "not theirs)" + actAs + ".", security: .either, [(204, "Forgotten", nil)]),
            op("GET", "/v1/push/webpush-key", "The VAPID public key browsers subscribe with (applicationServerKey).", security: .either,
               [(200, "The key", "WebPushKey")]),
            op("PUT", "/v1/users/{user_id}/email", "Set the address email notifications go to; the platform verifies addresses. (API key, scope server)",
               security: .apiKey, request: "UserEmail", [(200, "The address", "UserEmailAddress")]),
            op("GET", "/v1/users/{user_id}/email", "The user's email address (404 notifications.email_not_set). (API key, scope server)",
               security: .apiKey, [(200, "The address", "UserEmailAddress")]),
            op("DELETE", "/v1/users/{user_id}/email", "Remove the user's email address. (API key, scope server)", security: .apiKey,
               [(204, "Removed", nil)]),
        ]
        for channel in ["email", "push"] {
            let providers = channel == "email"
                ? "SMTP servers (type smtp; config host, port, security starttls|starttls_optional|tls|none, username, password, "
                    + "trusted_ca_pem; settings from, from_name, reply_to, unsubscribe_url)"
                : "push services (type apns: team_id, key_id, private_key, topic; fcm: service_account; webpush: vapid_public_key, "
                    + "vapid_private_key, subject)"
            operations += [
                op("PUT", "/v1/admin/notifications/channels/\(channel)", "Configure the \(channel) channel's ordered \(providers). Deliveries "
                   + "fail over to the next provider when one fails. (API key, scope admin)", security: .apiKey, request: "ChannelProvidersWrite",
                   [(200, "The configuration, secrets shown as ***", "ChannelProviders")]),
                op("GET", "/v1/admin/notifications/channels/\(channel)", "The \(channel) channel's providers, secrets shown as ***. "
                   + "(API key, scope admin)", security: .apiKey, [(200, "The configuration", "ChannelProviders")]),
                op("DELETE", "/v1/admin/notifications/channels/\(channel)", "Remove the \(channel) channel's providers. (API key, scope admin)",
                   security: .apiKey, [(204, "Removed", nil)]),
            ]
        }
        for action in ["read", "seen", "archive", "unread", "unarchive"] {
            operations.append(op("POST", "/v1/me/notifications/{notification_id}/\(action)", "Mark one entry \(action)" + actAs + ".",
                                 security: .either, [(200, "The entry", "NotificationEntry")]))
        }
        add(operations, schemas: Self.notificationSchemas)
    }

    static var notificationSchemas: [String: JSONValue] {
        let nullableInteger: JSONValue = .object(["type": .array(["integer", "null"])])
        let channel = Schema.enumeration(NotificationChannelKind.allCases.map(\.rawValue))
        let countsEntry = Schema.object(["total": Schema.integer, "unread": Schema.integer, "unseen": Schema.integer],
                                        required: ["total", "unread", "unseen"])
        let category = Schema.object([
            "id": Schema.string, "description": Schema.string, "mandatory": Schema.boolean, "updated_at": Schema.timestamp,
        ], required: ["id", "description", "mandatory"])
        return [
            "NotificationTrigger": Schema.object([
                "template": Schema.string,
                "recipients": .object(["description": "A list of user ids (at most 1000), {\"topic\": name}, or \"all\"."]),
                "data": Schema.anyObject, "category": Schema.string,
                "priority": Schema.enumeration(NotificationPriority.allCases.map(\.rawValue)),
                "dedup_key": Schema.string, "dedup_window_seconds": Schema.integer, "send_at": Schema.timestamp,
                "digest": Schema.object(["key": Schema.string, "window_seconds": Schema.integer], required: ["key", "window_seconds"]),
            ], required: ["template", "recipients"]),
            "NotificationTriggerResult": Schema.object([
                "id": Schema.string, "status": Schema.enumeration(["accepted", "scheduled", "digested", "deduplicated"]),
                "recipients": nullableInteger,
            ], required: ["id", "status", "recipients"]),
            "Notification": Schema.object([
                "id": Schema.string, "template": Schema.string, "category": Schema.string, "priority": Schema.string,
                "recipients": Schema.anyValue, "data": Schema.anyObject,
                "state": Schema.enumeration(["scheduled", "fanning_out", "sent", "digested"]), "recipient_count": Schema.integer,
                "send_at": Schema.nullableString, "digest_count": nullableInteger, "created_at": Schema.timestamp,
            ], required: ["id", "template", "state", "recipient_count", "created_at"]),
            "NotificationDeliveryList": Schema.object(["items": Schema.array(Schema.object([
                "channel": channel, "state": Schema.enumeration(DeliveryState.allCases.map(\.rawValue)), "reason": Schema.nullableString,
                "attempts": Schema.integer, "deferred_until": Schema.nullableString, "updated_at": Schema.timestamp,
            ], required: ["channel", "state", "attempts"]))], required: ["items"]),
            "NotificationTemplateFields": Schema.object([
                "title": Schema.string, "body": Schema.string, "action_url": Schema.string, "subject": Schema.string, "html": Schema.string,
                "text": Schema.string,
            ]),
            "NotificationTemplate": Schema.object([
                "key": Schema.string, "channel": channel, "locale": Schema.string, "fields": Schema.anyObject,
                "created_at": Schema.timestamp, "updated_at": Schema.timestamp,
            ], required: ["key", "channel", "locale", "fields"]),
            "NotificationTemplateList": Schema.object(["items": Schema.array(Schema.ref("NotificationTemplate"))], required: ["items"]),
            "NotificationCategoryWrite": Schema.object(["description": Schema.string, "mandatory": Schema.boolean]),
            "NotificationCategory": category,
            "NotificationCategoryList": Schema.object(["items": Schema.array(Schema.ref("NotificationCategory"))], required: ["items"]),
            "PushDeviceRegistration": Schema.object([
                "platform": Schema.enumeration(["apns", "fcm"]), "token": Schema.string, "app_id": Schema.string,
                "sandbox": Schema.boolean, "locale": Schema.string,
            ], required: ["platform", "token"]),
            "WebPushSubscription": Schema.object([
                "endpoint": Schema.string, "expirationTime": Schema.anyValue, "locale": Schema.string,
                "keys": Schema.object(["p256dh": Schema.string, "auth": Schema.string], required: ["p256dh", "auth"]),
            ], required: ["endpoint", "keys"]),
            "PushDevice": Schema.object([
                "id": Schema.string, "platform": Schema.enumeration(["apns", "fcm", "webpush"]), "token": Schema.string,
                "app_id": Schema.nullableString, "sandbox": Schema.boolean, "locale": Schema.nullableString, "created_at": Schema.timestamp,
                "last_used_at": Schema.nullableString,
            ], required: ["id", "platform", "token", "created_at"]),
            "PushDeviceList": Schema.object(["items": Schema.array(Schema.ref("PushDevice"))], required: ["items"]),
            "WebPushKey": Schema.object(["vapid_public_key": Schema.string], required: ["vapid_public_key"]),
            "UserEmail": Schema.object(["email": Schema.string], required: ["email"]),
            "UserEmailAddress": Schema.object(["user_id": Schema.string, "email": Schema.string], required: ["user_id", "email"]),
            "ChannelProvidersWrite": Schema.object([
                "enabled": Schema.boolean, "settings": Schema.anyObject,
                "providers": Schema.array(Schema.object(["name": Schema.string, "type": Schema.string, "config": Schema.anyObject],
                                                        required: ["name", "type", "config"])),
            ], required: ["providers"]),
            "ChannelProviders": Schema.object([
                "enabled": Schema.boolean, "settings": Schema.anyObject, "updated_at": Schema.timestamp,
                "providers": Schema.array(Schema.object(["name": Schema.string, "type": Schema.string, "config": Schema.anyObject])),
            ], required: ["enabled", "providers"]),
            "NotificationWebhookChannel": Schema.object(["url": Schema.string, "secret": Schema.string, "enabled": Schema.boolean],
                                                        required: ["url"]),
            "NotificationWebhookChannelConfig": Schema.object([
                "url": Schema.string, "enabled": Schema.boolean, "secret": Schema.string, "updated_at": Schema.timestamp,
            ], required: ["url", "enabled"]),
            "NotificationEntry": Schema.object([
                "id": Schema.string, "template": Schema.string, "category": Schema.string, "priority": Schema.string, "title": Schema.string,
                "body": Schema.string, "action_url": Schema.nullableString, "click_url": Schema.nullableString, "data": Schema.anyObject,
                "digest_count": nullableInteger, "position": Schema.string, "visible_at": Schema.timestamp, "created_at": Schema.timestamp,
                "seen_at": Schema.nullableString, "read_at": Schema.nullableString, "archived_at": Schema.nullableString,
                "clicked_at": Schema.nullableString, "snoozed_until": Schema.nullableString,
            ], required: ["id", "category", "title", "body", "position", "visible_at"]),
            "NotificationInboxPage": Schema.object([
                "items": Schema.array(Schema.ref("NotificationEntry")), "next_cursor": Schema.nullableString,
            ], required: ["items", "next_cursor"]),
            "NotificationCounts": Schema.object([
                "total": Schema.integer, "unread": Schema.integer, "unseen": Schema.integer,
                "by_category": .object(["type": "object", "additionalProperties": countsEntry]),
            ], required: ["total", "unread", "unseen", "by_category"]),
            "NotificationSnooze": Schema.object(["until": Schema.timestamp], required: ["until"]),
            "NotificationBulkMark": Schema.object([
                "action": Schema.enumeration(["read", "seen", "archive"]), "before": Schema.timestamp, "category": Schema.string,
            ], required: ["action"]),
            "NotificationBulkResult": Schema.object(["changed": Schema.integer, "counts": Schema.ref("NotificationCounts")],
                                                    required: ["changed", "counts"]),
            "NotificationPreferencesWrite": Schema.object([
                "locale": Schema.string, "time_zone": .object(["type": "string", "description": "An IANA name such as Europe/Paris."]),
                "quiet_hours": Schema.object(["start": Schema.string, "end": Schema.string], required: ["start", "end"]),
                "channels": .object(["type": "object", "description": "category → channel → enabled"]),
            ]),
            "NotificationPreferences": Schema.object([
                "locale": Schema.nullableString, "time_zone": Schema.nullableString, "quiet_hours": Schema.anyValue,
                "channels": Schema.anyObject, "categories": Schema.array(category),
            ], required: ["channels", "categories"]),
            "NotificationTopicList": Schema.object(["items": Schema.array(Schema.string)], required: ["items"]),
            "NotificationTopicUsers": Schema.object(["user_ids": Schema.array(Schema.string)], required: ["user_ids"]),
        ]
    }
}
