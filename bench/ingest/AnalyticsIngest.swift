import Analytics
import Events
import Foundation
import Logging
import ParleyApp
import ParleyCore
import Synchronization

/// The analytics consumer driven as `parley serve` drives it: one `AnalyticsConsumer` (made once, so its hourly
/// pruning runs once), stepped by a `ConsumerRunner` in batches of the runner's default size.
struct AnalyticsIngest: Sendable {
    let services: ParleyServices
    let consumer: AnalyticsConsumer
    let runner: ConsumerRunner

    init(services: ParleyServices, logger: Logger) {
        self.services = services
        consumer = services.analytics.consumer(logger: logger)
        runner = ConsumerRunner(log: services.events, consumers: [consumer], database: services.database, clock: services.clock,
                                logger: logger)
    }

    /// Events written but not yet consumed.
    func lag() async throws -> Int64 {
        try await services.events.headPosition() - services.events.cursor(of: consumer.name)
    }

    /// Consumes everything in the log and times it; the count is the number of log positions passed.
    func drain(kind: String = "analytics_consume", measuresServer: Bool) async throws -> PassResult {
        let pending = try await lag()
        let meter = Meter(measuresServer: measuresServer)
        while try await runner.step(consumer) {}
        return meter.finish(kind: kind, count: Int(pending))
    }

    /// Runs the consumer in the background while `body` runs, exactly as `parley serve` does (`ConsumerRunner.run`:
    /// a step when a commit signals, after the consumer's batch delay, else every poll interval), and samples its lag
    /// every 100 ms. Returns `body`'s result, the largest lag seen and the lag when `body` ended. The runner is then
    /// stopped by cancelling its task (a transaction it had open is rolled back; the caller drains what is left).
    func whileConsuming<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> (T, maxLag: Int64, lagAtEnd: Int64) {
        let state = LoopState()
        let background = Task { try await runner.run() }
        let sampler = Task {
            while !Task.isCancelled {
                if let lag = try? await lag() { state.maxLag.withLock { $0 = max($0, lag) } }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        func finish() async {
            sampler.cancel()
            background.cancel()
            _ = await sampler.result
            _ = await background.result
        }
        do {
            let result = try await body()
            let atEnd = try await lag()
            await finish()
            return (result, state.maxLag.withLock { max($0, atEnd) }, atEnd)
        } catch {
            await finish()
            throw error
        }
    }

    /// The number of messages analytics counted today (UTC), from the same query the API answers.
    func countedMessages() async throws -> Int {
        let now = services.clock.now()
        let day = (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400
        let query = MetricQuery(metric: "messages", from: Date(timeIntervalSince1970: day - 86_400),
                                to: Date(timeIntervalSince1970: day + 2 * 86_400))
        return Int(try await services.analytics.series(query).points.compactMap(\.value).reduce(0, +))
    }
}

/// The largest lag the sampler saw.
private final class LoopState: Sendable {
    let maxLag = Mutex<Int64>(0)
}
