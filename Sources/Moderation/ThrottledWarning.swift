import Foundation
import Logging
import Synchronization

/// A warning logged at most once a minute: for a fallback taken on every request while something it depends on is
/// down (the shared rate limits, the shared flood windows), where one line per request would flood the log.
final class ThrottledWarning: Sendable {
    private let lastLogged = Mutex<Date?>(nil)

    func log(_ message: Logger.Message, error: any Error, at now: Date, to logger: Logger) {
        let due = lastLogged.withLock { last in
            guard last.map({ abs(now.timeIntervalSince($0)) >= 60 }) ?? true else { return false }
            last = now
            return true
        }
        if due { logger.warning(message, metadata: ["error": "\(String(reflecting: error))"]) }
    }
}
