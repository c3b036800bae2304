import Foundation
import Hummingbird
import Identity
import Notifications
import ParleyCore

/// Push devices (users register their own), email addresses (the platform sets them) and the providers of
/// the email and push channels (admins).
extension NotificationsController {
    struct DeviceBody: RequestBody {
        static let fields: Set<String> = ["platform", "token", "app_id", "sandbox", "locale"]
        let platform: String
        let token: String
        let app_id: String?
        let sandbox: Bool?
        let locale: String?
    }

    /// A browser's `PushSubscription.toJSON()`, as is.
    struct WebPushSubscriptionBody: RequestBody {
        static let fields: Set<String> = ["endpoint", "keys", "expirationTime", "locale"]
        let endpoint: String
        let keys: Keys
        let locale: String?

        struct Keys: Decodable, Sendable {
            let p256dh: String
            let auth: String
        }
    }

    struct EmailBody: RequestBody {
        static let fields: Set<String> = ["email"]
        let email: String
    }

    struct ProvidersBody: RequestBody {
        static let fields: Set<String> = ["enabled", "settings", "providers"]
        let enabled: Bool?
        let settings: [String: JSONValue]?
        let providers: [ProviderBody]

        struct ProviderBody: Decodable, Sendable {
            let name: String
            let type: String
            let config: [String: JSONValue]
        }
    }

    func registerDeviceRoutes(on routes: RouteTable) {
        guard let devices else { return }
        routes.add(.post, "/v1/me/push-devices", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let body = try await request.decodeBody(DeviceBody.self, context: context)
            guard let platform = PushPlatform(rawValue: body.platform), platform != .webpush else {
                throw ParleyError.invalidField("platform", "apns or fcm (browsers use /v1/me/push-subscriptions)")
            }
            let device = try await devices.register(
                PushDeviceRegistration(platform: platform, token: body.token, appID: body.app_id, sandbox: body.sandbox ?? false,
                                       locale: body.locale),
                for: user
            )
            return try JSONBody.response(NotificationsWire.device(device), status: .created)
        }
        routes.add(.post, "/v1/me/push-subscriptions", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let body = try await request.decodeBody(WebPushSubscriptionBody.self, context: context)
            let device = try await devices.register(
                PushDeviceRegistration(platform: .webpush, token: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth,
                                       locale: body.locale),
                for: user
            )
            return try JSONBody.response(NotificationsWire.device(device), status: .created)
        }
        routes.add(.get, "/v1/me/push-devices", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            return try JSONBody.response(JSONValue.object(["items": .array(try await devices.devices(of: user).map(NotificationsWire.device))]))
        }
        routes.add(.delete, "/v1/me/push-devices/{device_id}", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            try await devices.remove(deviceID: try Self.parameter("device_id", context), of: user)
            return Response(status: .noContent)
        }
        // Browsers need the VAPID public key (`applicationServerKey`) before they can subscribe.
        routes.add(.get, "/v1/push/webpush-key", policy: .userOrServer) { _, _ in
            guard let key = try await configs.webPushPublicKey() else { throw ParleyError.channelNotConfigured("push (webpush)") }
            return try JSONBody.response(JSONValue.object(["vapid_public_key": .string(key)]))
        }

        // The platform owns and verifies email addresses.
        routes.add(.put, "/v1/users/{user_id}/email", policy: .apiKey(.server)) { request, context in
            let user = try context.userIDParameter()
            guard try await users.find(user) != nil else { throw ParleyError.userNotFound(user) }
            let body = try await request.decodeBody(EmailBody.self, context: context)
            try await devices.setEmail(body.email, for: user)
            return try JSONBody.response(JSONValue.object(["user_id": .string(user.rawValue), "email": .string(body.email)]))
        }
        routes.add(.get, "/v1/users/{user_id}/email", policy: .apiKey(.server)) { _, context in
            let user = try context.userIDParameter()
            guard let email = try await devices.email(of: user) else { throw ParleyError.emailNotSet(user) }
            return try JSONBody.response(JSONValue.object(["user_id": .string(user.rawValue), "email": .string(email)]))
        }
        routes.add(.delete, "/v1/users/{user_id}/email", policy: .apiKey(.server)) { _, context in
            try await devices.removeEmail(of: try context.userIDParameter())
            return Response(status: .noContent)
        }

        for channel in [NotificationChannelKind.email, .push] {
            let path = "/v1/admin/notifications/channels/\(channel.rawValue)"
            routes.add(.put, path, policy: .apiKey(.admin)) { request, context in
                let body = try await request.decodeBody(ProvidersBody.self, context: context)
                let config = try await configs.setProviders(
                    channel, enabled: body.enabled ?? true, settings: body.settings ?? [:],
                    providers: body.providers.map { ChannelProviders.Provider(name: $0.name, type: $0.type, config: $0.config) },
                    validate: { provider in try ChannelProviderValidation.validate(provider, channel: channel, settings: body.settings ?? [:]) }
                )
                return try JSONBody.response(config.redacted)
            }
            routes.add(.get, path, policy: .apiKey(.admin)) { _, _ in
                guard let config = try await configs.providers(channel) else { throw ParleyError.channelNotConfigured(channel.rawValue) }
                return try JSONBody.response(config.redacted)
            }
            routes.add(.delete, path, policy: .apiKey(.admin)) { _, _ in
                try await configs.deleteProviders(channel)
                return Response(status: .noContent)
            }
        }
    }
}

extension ParleyError {
    static func emailNotSet(_ user: UserID) -> ParleyError {
        ParleyError(.notFound, code: "notifications.email_not_set", message: "User '\(user.rawValue)' has no email address.",
                    details: ["user_id": .string(user.rawValue)])
    }
}
