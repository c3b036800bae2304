import Foundation
import HummingbirdTesting
import Messaging
import ParleyCore
import ParleyRealtime
import ParleyStorage
import ParleyTestSupport
import Testing

/// Reconnecting while messages keep arriving: the frames that come live during the resume and the missed
/// ones replayed from the feed must together be every message exactly once, in order. (A race here once let
/// a live frame overtake a buffered one, which then looked like a duplicate and was dropped.)
@Suite struct ResumeUnderTrafficTests {
    let gateway = GatewayTests()

    @Test(arguments: TestDatabases.engines)
    func clientsResumingDuringABurstMissNothingAndSeeNothingTwice(engine: DatabaseEngine) async throws {
        try await LiveServer.run(engine, floodDetection: false) { server, _ in
            let conversation = try await gateway.direct(server, "alice", "bob")
            let (first, ok) = try await gateway.hello(server, "bob", device: "phone")
            let token = try #require(ok["token"])
            first.close()
            let alice = try UserID(validating: "alice")
            let total = 300
            let messaging = server.services.messaging
            let sender = Task {
                for index in 1...total {
                    _ = try await messaging.send(
                        try MessageDraft(conversationID: conversation, clientMsgID: "m\(index)", kind: .text, body: ["text": .string("n\(index)")]),
                        by: .user(alice)
                    )
                }
            }
            // Five resumes in a row while the burst goes on, each from the same old token: every connection must
            // end up with the whole burst.
            for _ in 0..<5 {
                let (socket, _) = try await gateway.hello(server, "bob", device: "phone", resume: token)
                _ = try await sender.value
                var frames: [JSONValue] = []
                try await gateway.waitForItems(socket, count: total, into: &frames)
                let seqs = frames.filter { $0["type"] == "item" }.compactMap { $0["seq"]?.intValue }
                #expect(seqs == Array(2...(total + 1)), "missing: \(Set(2...(total + 1)).subtracting(seqs).sorted().prefix(10))")
                socket.close()
            }
        }
    }
}
