import Events
import Foundation
import ParleyCore

/// Expands one chunk of a broadcast's recipients (`notifications.fanout`).
public struct NotificationFanOutHandler: JobHandler {
    public let kind = NotificationService.fanOutJobKind
    public let timeout: TimeInterval = 120
    let service: NotificationService

    public init(service: NotificationService) {
        self.service = service
    }

    public func run(_ job: Job) async throws {
        guard let id = job.payload["notification_id"]?.stringValue else { throw PermanentJobFailure("no notification_id") }
        try await service.runFanOut(notificationID: id, after: job.payload["after"]?.stringValue)
    }
}

/// Sends one (notification, user, channel) delivery through its channel (`notifications.deliver`).
public struct NotificationDeliveryHandler: JobHandler {
    public let kind = NotificationService.deliveryJobKind
    public let timeout: TimeInterval
    let service: NotificationService

    public init(service: NotificationService) {
        self.service = service
        // Email may take a connect, a TLS handshake and a slow DATA reply per provider; push fans out to every
        // device. The lease must outlast the slowest channel, or a second worker would send the same delivery.
        let components = service.settings.webhookTimeout.components
        timeout = max(300, Double(components.seconds) + Double(components.attoseconds) / 1e18 + 5)
    }

    public func run(_ job: Job) async throws {
        guard let id = job.payload["notification_id"]?.stringValue, let user = job.payload["user_id"]?.stringValue,
              let channel = job.payload["channel"]?.stringValue.flatMap(NotificationChannelKind.init(rawValue:)) else {
            throw PermanentJobFailure("a malformed delivery job")
        }
        try await service.runDelivery(notificationID: id, user: UserID(trusted: user), channel: channel, attempt: job.attempt,
                                      finalAttempt: job.attempt >= job.maxAttempts)
    }
}

/// Closes a digest when its window ends and turns it into one notification (`notifications.digest`).
public struct NotificationDigestHandler: JobHandler {
    public let kind = NotificationService.digestJobKind
    public let timeout: TimeInterval = 60
    let service: NotificationService

    public init(service: NotificationService) {
        self.service = service
    }

    public func run(_ job: Job) async throws {
        guard let id = job.payload["digest_id"]?.stringValue else { throw PermanentJobFailure("no digest_id") }
        do {
            try await service.flushDigest(id)
        } catch let error as ParleyError where error.code == "notifications.missing_variable" || error.code == "notifications.invalid_action_url" {
            // The template changed since the trigger and no longer renders with these events: retrying cannot help.
            throw PermanentJobFailure(error.description)
        }
    }
}

/// Pushes a snoozed entry live again when its snooze ends (`notifications.resurface`).
public struct NotificationResurfaceHandler: JobHandler {
    public let kind = NotificationService.resurfaceJobKind
    public let timeout: TimeInterval = 30
    let service: NotificationService

    public func run(_ job: Job) async throws {
        guard let user = job.payload["user_id"]?.stringValue, let id = job.payload["notification_id"]?.stringValue,
              case .int(let until)? = job.payload["until"] else { throw PermanentJobFailure("a malformed resurface job") }
        try await service.resurface(id, user: UserID(trusted: user), snoozedUntil: Int64(until))
    }
}

extension NotificationService {
    /// Every job handler of the context, for the composition root's JobWorker.
    public var jobHandlers: [any JobHandler] {
        [NotificationFanOutHandler(service: self), NotificationDeliveryHandler(service: self), NotificationDigestHandler(service: self),
         NotificationResurfaceHandler(service: self)]
    }
}
