import ParleyCore

/// The errors of the Notifications context, each with its stable code.
extension ParleyError {
    public static func templateNotFound(_ key: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.template_not_found", message: "No template '\(key)' for any channel.",
                    details: ["template": .string(key)])
    }

    public static func templateVariantNotFound(_ key: String, channel: String, locale: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.template_not_found",
                    message: "No template '\(key)' for channel '\(channel)' and locale '\(locale)'.",
                    details: ["template": .string(key), "channel": .string(channel), "locale": .string(locale)])
    }

    public static func invalidTemplate(_ field: String, _ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "notifications.invalid_template", message: "Template field '\(field)' is invalid: \(reason)",
                    details: ["field": .string(field)])
    }

    /// A variable a template uses is absent (or null) in the trigger's data.
    public static func missingVariable(_ name: String, template: String, channel: String, locale: String, field: String) -> ParleyError {
        ParleyError(.unprocessable, code: "notifications.missing_variable",
                    message: "Template '\(template)' (\(channel), \(locale), \(field)) uses '\(name)', which the data does not have.",
                    details: ["variable": .string(name), "template": .string(template), "channel": .string(channel),
                              "locale": .string(locale), "field": .string(field)])
    }

    public static func invalidActionURL(_ url: String) -> ParleyError {
        ParleyError(.unprocessable, code: "notifications.invalid_action_url",
                    message: "The rendered action_url is not an absolute http(s) URL or a path starting with '/'.",
                    details: ["action_url": .string(String(url.prefix(300)))])
    }

    public static func categoryNotFound(_ category: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.category_not_found", message: "No notification category '\(category)'.",
                    details: ["category": .string(category)])
    }

    public static func categoryInUse(_ category: String) -> ParleyError {
        ParleyError(.conflict, code: "notifications.category_in_use", message: "Category '\(category)' is the default and cannot be deleted.",
                    details: ["category": .string(category)])
    }

    public static func mandatoryCategory(_ category: String, channel: String) -> ParleyError {
        ParleyError(.unprocessable, code: "notifications.mandatory_category",
                    message: "Category '\(category)' is mandatory; its notifications cannot be turned off.",
                    details: ["category": .string(category), "channel": .string(channel)])
    }

    public static func idempotencyConflict(_ key: String) -> ParleyError {
        ParleyError(.conflict, code: "notifications.idempotency_conflict",
                    message: "Idempotency key '\(key)' was used with a different request body.",
                    details: ["idempotency_key": .string(String(key.prefix(200)))])
    }

    public static func notificationNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.notification_not_found", message: "No notification '\(id)' here.",
                    details: ["notification_id": .string(String(id.prefix(200)))])
    }

    public static func invalidClickSignature() -> ParleyError {
        ParleyError(.forbidden, code: "notifications.invalid_signature", message: "The link's signature does not match.")
    }

    public static func noActionURL(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.no_action_url", message: "Notification '\(id)' has no action URL.",
                    details: ["notification_id": .string(id)])
    }

    public static func channelNotConfigured(_ channel: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.channel_not_configured", message: "Channel '\(channel)' is not configured.",
                    details: ["channel": .string(channel)])
    }

    public static func deviceNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "notifications.device_not_found", message: "No push device '\(id)' of yours.",
                    details: ["device_id": .string(String(id.prefix(200)))])
    }

    public static func invalidProviderConfig(_ field: String, _ reason: String) -> ParleyError {
        ParleyError(.unprocessable, code: "notifications.invalid_provider", message: "Provider setting '\(field)' is invalid: \(reason)",
                    details: ["field": .string(field)])
    }
}
