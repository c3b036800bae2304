import Crypto
import Foundation
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Several `parley worker` processes on one PostgreSQL share the work and never run one attempt twice.
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct TwoWorkerTests {
    @Test func twoWorkerProcessesDeliverEveryEventWithoutRunningAnAttemptTwice() async throws {
        let receiver = WebhookReceiver(delay: .milliseconds(5))
        try await receiver.run { receiverPort in
            try await TestDatabases.withConfiguration(.postgres) { configuration in
                guard case .postgres(let url) = configuration else { return }
                let database = try await Database.open(configuration, logger: TestDatabases.logger)
                let expected = try await database.withRunningPool { database -> Set<String> in
                    let services = ParleyServices(database: database, secret: SymmetricKey(size: .bits256))
                    _ = try await services.migrate()
                    _ = try await services.webhooks.create(url: "http://127.0.0.1:\(receiverPort)/hook", description: "", eventTypes: ["user.created"],
                                                           secret: nil)
                    for index in 0..<150 {
                        _ = try await services.users.upsert(try UserID(validating: "w\(index)"), profile: try .init(name: "W", avatarURL: nil, metadata: nil),
                                                            actor: "test", at: Date())
                    }
                    return Set(try await services.events.read(after: 0, limit: 1000, types: ["user.created"]).map(\.id))
                }
                #expect(expected.count == 150)
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-workers-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: folder) }
                let workers = try (0..<2).map { _ in try startWorker(databaseURL: url, dataDirectory: folder) }
                defer { for worker in workers where worker.isRunning { worker.terminate() } }
                let deadline = ContinuousClock.now + .seconds(120)
                while !expected.isSubset(of: receiver.eventIDs), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                for worker in workers {
                    worker.interrupt()
                    // The worker may still be delivering to this process's receiver while it stops: wait off the
                    // cooperative threads, which the receiver needs to answer.
                    await offCooperativePool { worker.waitUntilExit() }
                    #expect(worker.terminationStatus == 0)
                }
                let received = receiver.all
                #expect(expected.isSubset(of: Set(received.map(\.eventID))))
                let attempts = received.map { "\($0.deliveryID)#\($0.attempt)" }
                #expect(Set(attempts).count == attempts.count, "no delivery attempt ran twice")
                #expect(Set(received.map(\.deliveryID)).count == expected.count, "one delivery per event, however many consumers ran")
            }
        }
    }

    func startWorker(databaseURL: String, dataDirectory: URL) throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_SECRET"] = Data(repeating: 7, count: 32).base64URLEncodedString()
        return try ChildProcess(EndToEndTests.binary.path,
                                ["worker", "--database", databaseURL, "--data-dir", dataDirectory.path, "--concurrency", "4"],
                                environment: environment)
    }
}
