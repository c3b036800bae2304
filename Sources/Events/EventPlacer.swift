import Foundation
import Logging
import ParleyCore
import ParleyStorage
import ServiceLifecycle

/// PostgreSQL: gives the events this node appends their positions right after they commit (`EventLog.placePending`),
/// so that readers on every node, woken by the placing transaction's NOTIFY, find them without waiting for a poll.
/// It also places, within `pollInterval`, what nobody here was told about: events of another node that stopped before
/// placing them, or of a node of the previous release during a rolling upgrade. Readers place before they read too,
/// so this is about promptness, not correctness. On SQLite there is nothing to place and it only waits.
public final class EventPlacer: Service, Sendable {
    let log: EventLog
    let database: Database
    let logger: Logger
    let pollInterval: Duration

    public init(log: EventLog, database: Database, logger: Logger, pollInterval: Duration = .milliseconds(250)) {
        self.log = log
        self.database = database
        self.logger = logger
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            guard self.database.engine == .postgres else { return await waitUntilCancelled() }
            let appended = self.database.signal(EventLog.appendedChannel)
            while !Task.isCancelled {
                let generation = appended.generation
                do {
                    try await self.log.placePending()
                } catch {
                    self.logger.warning("placing events failed; will retry", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
                await appended.wait(since: generation, timeout: self.pollInterval)
            }
        }
    }
}
