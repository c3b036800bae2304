// Times DAU/WAU/MAU over 1,000,000 users × 90 days of stored day bitmaps, on SQLite (default) or PostgreSQL
// (`parley-analytics-bench postgres://...`). It writes the bitmaps directly (as the consumer would after ingesting
// every day's activity), then times the queries through `AnalyticsService.series`, the same path the API uses.
import Analytics
import Events
import Foundation
import Logging
import ParleyCore
import ParleyStorage

let users = Int(ProcessInfo.processInfo.environment["BENCH_USERS"] ?? "") ?? 1_000_000
let days = Int(ProcessInfo.processInfo.environment["BENCH_DAYS"] ?? "") ?? 90
let dailyShare = Double(ProcessInfo.processInfo.environment["BENCH_DAILY_SHARE"] ?? "") ?? 0.3
var logger = Logger(label: "bench")
logger.logLevel = .warning

let arguments = CommandLine.arguments.dropFirst()
if let first = arguments.first, first.hasPrefix("-") {
    // Any argument is the database to use; an option-looking one would become a SQLite file of that name.
    print("usage: parley-analytics-bench [SQLITE-PATH | postgres://URL]  (sizes: BENCH_USERS, BENCH_DAYS, BENCH_DAILY_SHARE)")
    exit(first == "--help" || first == "-h" ? 0 : 2)
}
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-analytics-bench-\(UUID().uuidString)")
let configuration: DatabaseConfiguration = arguments.first.map { DatabaseConfiguration(urlOrPath: $0) }
    ?? .sqlite(path: folder.appendingPathComponent("bench.sqlite").path)
try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

func milliseconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

let database = try await Database.open(configuration, logger: logger)
try await database.withRunningPool { database in
    try await Migrator(database: database).migrate([EventLog.migrations, AnalyticsContext.migrations])
    let firstDay: Int64 = 20_454  // 2026-01-01
    let clock = ManualWallClock(Date(unixMilliseconds: (firstDay + Int64(days)) * 86_400_000))
    let service = AnalyticsService(database: database, events: EventLog(database: database, ids: SortableIDGenerator(clock: clock)),
                                   clock: clock)
    // Each day a different, pseudo-random ~30% of the users are active, plus a core of 10% active every day.
    var generator = SystemRandomNumberGenerator()
    var bytes = 0
    let build = try await milliseconds {
        for day in 0..<days {
            var bitmap = DenseBitmap()
            for user in 0..<users where user % 10 == 0 || Double.random(in: 0..<1, using: &generator) < dailyShare {
                bitmap.insert(UInt32(user))
            }
            let blob = bitmap.encoded()
            bytes += blob.count
            try await service.storeDayBitmapForBenchmark(bitmap, set: "active", zone: .utc, day: firstDay + Int64(day))
        }
    }
    print("built \(days) day bitmaps of \(users) users in \(Int(build)) ms; \(bytes / days / 1024) KB per day on average")
    let from = Date(unixMilliseconds: firstDay * 86_400_000)
    let to = Date(unixMilliseconds: (firstDay + Int64(days)) * 86_400_000)
    let lastDay = Date(unixMilliseconds: (firstDay + Int64(days) - 1) * 86_400_000)
    func time(_ label: String, _ query: MetricQuery, runs: Int = 5) async throws {
        var samples: [Double] = []
        var answer: [Double?] = []
        for _ in 0..<runs {
            samples.append(try await milliseconds { answer = try await service.series(query).points.map(\.value) })
        }
        samples.sort()
        func format(_ value: Double?) -> String {
            guard let value else { return "null" }
            return value == value.rounded() ? String(Int(value)) : String(format: "%.4f", value)
        }
        let shown = answer.count == 1 ? format(answer[0]) : "\(answer.count) points, last \(format(answer.last ?? nil))"
        print("\(label.padding(toLength: 34, withPad: " ", startingAt: 0)) median \(String(format: "%8.1f", samples[samples.count / 2])) ms"
            + "   min \(String(format: "%8.1f", samples[0])) ms   → \(shown)")
    }
    try await time("DAU, one day", MetricQuery(metric: "active_users", from: lastDay, to: to))
    try await time("WAU, one day (OR of 7)", MetricQuery(metric: "wau", from: lastDay, to: to))
    try await time("MAU, one day (OR of 30)", MetricQuery(metric: "mau", from: lastDay, to: to))
    try await time("stickiness, one day", MetricQuery(metric: "stickiness", from: lastDay, to: to))
    try await time("DAU series, \(days) days", MetricQuery(metric: "active_users", from: from, to: to))
    try await time("WAU series, \(days) days", MetricQuery(metric: "wau", from: from, to: to), runs: 3)
    try await time("MAU series, \(days) days", MetricQuery(metric: "mau", from: from, to: to), runs: 3)
    try await time("weekly active users, all weeks", MetricQuery(metric: "active_users", from: from, to: to, granularity: .week), runs: 3)
}
