import Foundation
import ParleyCore

/// A unit of work that can fail and be retried: calling a webhook, sending an email.
public struct Job: Sendable, Equatable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// Waiting for `runAt`.
        case available
        /// Claimed by a worker until `lockedUntil`; after that it may be claimed again (its worker died).
        case running
        case completed
        /// Failed `maxAttempts` times, or failed permanently: the dead-letter state. `retry` revives it.
        case dead
        /// Removed by an operator; kept for the record.
        case discarded
    }

    public var id: String
    public var kind: String
    public var payload: JSONValue
    public var state: State
    public var priority: Int
    public var runAt: Date
    /// Attempts started so far, this one included while running. (id, attempt) names one attempt.
    public var attempt: Int
    public var maxAttempts: Int
    public var uniqueKey: String?
    public var lockedBy: String?
    public var lockedUntil: Date?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?
}

/// A job to enqueue.
public struct NewJob: Sendable {
    public var kind: String
    public var payload: JSONValue
    public var priority: Int
    public var runAt: Date?
    public var maxAttempts: Int
    /// Enqueueing a second job with the same key does nothing: the first one stands.
    public var uniqueKey: String?

    public init(kind: String, payload: JSONValue, priority: Int = 100, runAt: Date? = nil, maxAttempts: Int = 12, uniqueKey: String? = nil) {
        self.kind = kind
        self.payload = payload
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
    }
}

/// How long to wait before the next attempt: exponential in the attempt number, capped, with jitter so
/// a burst of failures does not retry in lockstep.
public struct Backoff: Sendable {
    public var base: Double
    public var cap: Double

    public init(base: Double = 2, cap: Double = 3600) {
        self.base = base
        self.cap = cap
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based): between half and all of
    /// `base · 2^(attempt-1)`, at most `cap`.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let exponential = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        return exponential * (0.5 + 0.5 * random)
    }
}

/// Thrown by a job handler for a failure that retrying cannot fix: the job goes straight to `dead`.
public struct PermanentJobFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ParleyError {
    public static func jobNotFound(_ id: String) -> ParleyError {
        ParleyError(.notFound, code: "jobs.job_not_found", message: "No job '\(id)'.", details: ["job_id": .string(id)])
    }

    /// Retrying or discarding a job is refused in a state where it makes no sense.
    public static func jobState(_ id: String, state: Job.State, action: String) -> ParleyError {
        ParleyError(.conflict, code: "jobs.invalid_state", message: "Job '\(id)' is \(state.rawValue); it cannot be \(action) now.",
                    details: ["job_id": .string(id), "state": .string(state.rawValue)])
    }
}
