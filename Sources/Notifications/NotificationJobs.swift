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
        let components = service.settings.webhookTimeout.components
        timeout = Double(components.seconds) + Double(components.attoseconds) / 1e18 + 5
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

extension NotificationService {
    /// Every job handler of the context, for the composition root's JobWorker.
    public var jobHandlers: [any JobHandler] {
        [NotificationFanOutHandler(service: self), NotificationDeliveryHandler(service: self), NotificationDigestHandler(service: self)]
    }
}
