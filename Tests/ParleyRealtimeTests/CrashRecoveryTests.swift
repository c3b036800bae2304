import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization
import Testing

/// A local HTTP server that records every webhook request it receives.
final class WebhookReceiver: Sendable {
    struct Received: Sendable, Hashable {
        let eventID: String
        let deliveryID: String
        let attempt: Int
    }

    private let received = Mutex<[Received]>([])
    let delay: Duration

    init(delay: Duration = .zero) {
        self.delay = delay
    }

    var all: [Received] { received.withLock { $0 } }
    var eventIDs: Set<String> { Set(all.map(\.eventID)) }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            if self.delay > .zero { try await Task.sleep(for: self.delay) }
            self.received.withLock {
                $0.append(Received(
                    eventID: request.headers[HTTPField.Name("Parley-Event-Id")!] ?? "",
                    deliveryID: request.headers[HTTPField.Name("Parley-Delivery-Id")!] ?? "",
                    attempt: Int(request.headers[HTTPField.Name("Parley-Delivery-Attempt")!] ?? "") ?? 0
                ))
            }
            return .ok
        }
        return router
    }

    /// Runs the receiver on a loopback port for the duration of `body`.
    func run(_ body: @Sendable (Int) async throws -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestDatabases.logger)
        try await app.test(.live) { client in
            guard let port = client.port else { throw TestDatabaseError("no receiver port") }
            try await body(port)
        }
    }
}

/// What survives a process killed mid-work: every committed event still reaches the webhook, at least once.
@Suite struct CrashRecoveryTests {
    @Test func aServerKilledMidDeliveryLosesNoEventAfterRestart() async throws {
        let receiver = WebhookReceiver(delay: .milliseconds(40))
        try await receiver.run { receiverPort in
            let server = try await EndToEndTests.startServer()
            let folder = server.dataDirectory
            defer { try? FileManager.default.removeItem(at: folder) }
            let admin = try server.command(["apikey", "create", "--scope", "admin"])
            let (created, _) = try await server.http("POST", "/v1/admin/webhooks", bearer: admin,
                                                     body: #"{"url": "http://127.0.0.1:\#(receiverPort)/hook", "event_types": ["user.*"]}"#)
            #expect(created == 201)
            let total = 40
            for index in 0..<total {
                let (status, _) = try await server.http("PUT", "/v1/users/u\(index)", bearer: admin, body: #"{"name": "U\#(index)"}"#)
                #expect(status == 201)
            }
            // Kill it while deliveries are in flight: some delivered, most not.
            let deadline = ContinuousClock.now + .seconds(60)
            while receiver.all.count < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            kill(server.process.processIdentifier, SIGKILL)
            await offCooperativePool { server.process.waitUntilExit() }
            let deliveredBeforeCrash = receiver.eventIDs.count
            #expect(deliveredBeforeCrash < total, "the kill must land mid-work for this test to mean anything")

            // Same data folder, new process: the consumer resumes from its cursor and the leases of the killed
            // attempts expire... here at once, because a fresh process never holds the old leases.
            let restarted = try await EndToEndTests.startServer(dataDirectory: folder)
            defer { restarted.process.terminate() }
            let (listed, events) = try await restarted.http("GET", "/v1/admin/events?type=user.created&limit=200", bearer: admin)
            #expect(listed == 200)
            var expected: Set<String> = []
            if case .array(let items)? = events["items"] { expected = Set(items.compactMap { $0["id"]?.stringValue }) }
            #expect(expected.count == total)
            let finish = ContinuousClock.now + .seconds(120)
            while !expected.isSubset(of: receiver.eventIDs), ContinuousClock.now < finish { try await Task.sleep(for: .milliseconds(50)) }
            #expect(expected.isSubset(of: receiver.eventIDs), "every committed event was delivered after the restart")
            restarted.process.interrupt()
            await offCooperativePool { restarted.process.waitUntilExit() }
            #expect(restarted.process.terminationStatus == 0)
        }
    }
}
