import Events
import Foundation
import Notifications
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import SQLKit
import Synchronization

/// Users as the composition root would serve them from Identity: here a sorted in-memory list.
struct ListDirectory: NotificationUserDirectory {
    let users: [UserID]
    let inactive: Set<UserID>

    init(_ users: [UserID], inactive: Set<UserID> = []) {
        self.users = users.sorted()
        self.inactive = inactive
    }

    func activeUsers(after: UserID?, limit: Int) async throws -> [UserID] {
        var start = 0
        if let after {
            // Binary search for the first id greater than `after`.
            var low = 0, high = users.count
            while low < high {
                let mid = (low + high) / 2
                if users[mid] <= after { low = mid + 1 } else { high = mid }
            }
            start = low
        }
        var result: [UserID] = []
        while start < users.count, result.count < limit {
            if !inactive.contains(users[start]) { result.append(users[start]) }
            start += 1
        }
        return result
    }

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        let known = Set(users)
        return Set(ids.filter { known.contains($0) && !inactive.contains($0) })
    }
}

/// An outbound HTTP seam that records requests and answers a chosen status.
final class RecordingHTTP: OutboundHTTP {
    let requests = Mutex<[OutboundRequest]>([])
    let status = Atomic<Int>(200)

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        requests.withLock { $0.append(request) }
        return OutboundResponse(status: status.load(ordering: .relaxed), body: Data())
    }

    var count: Int { requests.withLock { $0.count } }
}

struct NotificationsFixture: Sendable {
    static let linkSecret = "test-link-secret-0123456789abcdef"

    let database: Database
    let service: NotificationService
    let jobs: JobQueue
    let events: EventLog
    let clock: ManualWallClock
    let http: RecordingHTTP
    let configs: NotificationChannelConfigs

    static let migrations = [EventLog.migrations, JobQueue.migrations, NotificationService.migrations]

    /// A service on a fresh database of `engine`, with users `u1`...`u<userCount>` (zero-padded) and the webhook channel.
    static func run(
        _ engine: DatabaseEngine, users: [UserID] = (1...5).map { UserID(trusted: "u\($0)") }, clock: ManualWallClock = ManualWallClock(),
        chunkSize: Int = 1000, _ body: @Sendable (NotificationsFixture) async throws -> Void
    ) async throws {
        try await TestDatabases.withDatabase(engine, migrations: migrations) { database in
            let ids = SortableIDGenerator(clock: clock)
            let events = EventLog(database: database, ids: ids)
            let jobs = JobQueue(database: database, ids: ids, clock: clock, backoff: Backoff(base: 1, cap: 10))
            let http = RecordingHTTP()
            let configs = NotificationChannelConfigs(database: database, clock: clock)
            let service = NotificationService(
                database: database, outbox: events, jobs: jobs, users: ListDirectory(users), clock: clock, ids: ids,
                settings: NotificationSettings(fanOutChunkSize: chunkSize, linkSecret: linkSecret),
                channels: [WebhookNotificationChannel(configs: configs, http: http, clock: clock)]
            )
            try await body(NotificationsFixture(database: database, service: service, jobs: jobs, events: events, clock: clock, http: http,
                                                configs: configs))
        }
    }

    /// Runs every runnable job of the context until none is left; returns how many attempts ran.
    @discardableResult
    func drainJobs(maxRounds: Int = 10_000) async throws -> Int {
        let handlers = Dictionary(uniqueKeysWithValues: service.jobHandlers.map { ($0.kind, $0) })
        var ran = 0
        for _ in 0..<maxRounds {
            let claimed = try await jobs.claim(kinds: Set(handlers.keys), limit: 10, worker: "test", lease: 300)
            guard !claimed.isEmpty else { return ran }
            for job in claimed {
                ran += 1
                do {
                    try await handlers[job.kind]!.run(job)
                    try await jobs.complete(job)
                } catch {
                    try await jobs.fail(job, error: "\(error)", permanent: error is PermanentJobFailure)
                }
            }
        }
        return ran
    }

    func scalar(_ query: SQLQueryString) async throws -> Int {
        try await database.sql.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// A simple in-app template for `key`.
    func inAppTemplate(_ key: String = "welcome", title: String = "Hello {{name}}", body: String = "Welcome to {{place}}.",
                       actionURL: String? = "https://example.com/n/{{name}}", locale: String = "en") async throws {
        var fields = ["title": title, "body": body]
        if let actionURL { fields["action_url"] = actionURL }
        _ = try await service.putTemplate(key: key, channel: .inApp, locale: locale, fields: fields)
    }
}

extension UserID {
    static func u(_ n: Int) -> UserID { UserID(trusted: "u\(n)") }
}
