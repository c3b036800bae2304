import Crypto
import Foundation
import HummingbirdTesting
import Messaging
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Two Parley nodes on one PostgreSQL: a message sent through one reaches a connection on the other, and typing
/// and presence cross between them.
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct TwoNodeTests {
    /// Two nodes (each its own `Database` and `ParleyServices`) on one PostgreSQL database, with users alice and bob
    /// and their direct conversation (created through node A).
    func withTwoNodes(_ body: @Sendable (_ nodeA: ParleyServices, _ nodeB: ParleyServices, _ alice: UserID, _ bob: UserID,
                                         _ conversation: String) async throws -> Void) async throws {
        try await TestDatabases.withConfiguration(.postgres) { configuration in
            let secret = SymmetricKey(size: .bits256)
            let first = try await Database.open(configuration, logger: TestDatabases.logger)
            try await first.withRunningPool { first in
                let nodeA = ParleyServices(database: first, secret: secret)
                _ = try await nodeA.migrate()
                let second = try await Database.open(configuration, logger: TestDatabases.logger)
                try await second.withRunningPool { second in
                    let nodeB = ParleyServices(database: second, secret: secret)
                    _ = try await nodeB.migrate()
                    let alice = try UserID(validating: "alice"), bob = try UserID(validating: "bob")
                    for user in [alice, bob] {
                        _ = try await nodeA.users.upsert(user, profile: try .init(name: user.rawValue, avatarURL: nil, metadata: nil),
                                                         actor: "test", at: Date())
                    }
                    let conversation = try await nodeA.messaging.openDirect(by: .user(alice), user: alice, with: bob).0.id
                    try await body(nodeA, nodeB, alice, bob, conversation)
                }
            }
        }
    }

    @Test func aMessageSentOnOneNodeReachesAConnectionOnTheOther() async throws {
        try await withTwoNodes { nodeA, nodeB, alice, bob, conversation in
            let (app, _) = ParleyServer.makeApplication(services: nodeB, address: .hostname("127.0.0.1", port: 0),
                                                        logger: TestDatabases.logger, embedLiveFanout: true)
            try await app.test(.live) { client in
                let port = try #require(client.port)
                let token = try nodeB.tokens.mint(user: bob, roles: [.user], ttlSeconds: 600).token
                let socket = try await TestSocket.open(port: port, token: token, viaQuery: false)
                try socket.send(["type": "hello", "id": 1])
                _ = try await socket.next(type: "hello_ok")
                // Sent through node A's services: node B learns of it only through the shared log.
                _ = try await nodeA.messaging.send(
                    try MessageDraft(conversationID: conversation, clientMsgID: "x1", kind: .text, body: ["text": "across nodes"]),
                    by: .user(alice)
                )
                let item = try await socket.next(type: "item")
                #expect(item["item"]?["body"]?["text"] == "across nodes")
                #expect(item["seq"] == 2)
                socket.close()
            }
        }
    }

    /// Flood and duplicate detection count a sender's messages on every node: the same text sent again through the
    /// other node is refused as a duplicate, and stored once.
    @Test func aDuplicateSentThroughTheOtherNodeIsRefused() async throws {
        try await withTwoNodes { nodeA, nodeB, alice, _, conversation in
            let text: JSONValue = ["text": "meet me at the usual place at noon"]
            _ = try await nodeA.messaging.send(try MessageDraft(conversationID: conversation, clientMsgID: "d1", kind: .text, body: text),
                                               by: .user(alice))
            do {
                _ = try await nodeB.messaging.send(try MessageDraft(conversationID: conversation, clientMsgID: "d2", kind: .text, body: text),
                                                   by: .user(alice))
                Issue.record("the duplicate was accepted on the other node")
            } catch let error as ParleyError {
                #expect(error.code == "moderation.duplicate")
            }
            let history = try await nodeB.messaging.history(conversation, for: .platform(label: "test"), afterSeq: 0, beforeSeq: nil, limit: 10)
            #expect(history.items.filter { $0.kind == .text }.count == 1)
        }
    }

    @Test func typingAndPresenceCrossBetweenNodes() async throws {
        try await withTwoNodes { nodeA, nodeB, alice, bob, conversation in
            let (appA, liveA) = ParleyServer.makeApplication(services: nodeA, address: .hostname("127.0.0.1", port: 0),
                                                             logger: TestDatabases.logger, embedLiveFanout: true)
            let (appB, liveB) = ParleyServer.makeApplication(services: nodeB, address: .hostname("127.0.0.1", port: 0),
                                                             logger: TestDatabases.logger, embedLiveFanout: true)
            try await appA.test(.live) { clientA in
                try await appB.test(.live) { clientB in
                    func hello(_ user: UserID, port: Int?, services: ParleyServices) async throws -> TestSocket {
                        let token = try services.tokens.mint(user: user, roles: [.user], ttlSeconds: 600).token
                        let socket = try await TestSocket.open(port: try #require(port), token: token, viaQuery: false)
                        try socket.send(["type": "hello", "id": 1])
                        _ = try await socket.next(type: "hello_ok")
                        return socket
                    }
                    // Both relays listen before anyone connects (a node learns who is elsewhere on start too,
                    // but this test is about changes).
                    try #require(try await eventually { liveA.signalRelay.isListening && liveB.signalRelay.isListening })
                    let bobOnB = try await hello(bob, port: clientB.port, services: nodeB)
                    try bobOnB.send(["type": "presence.sub", "id": 2, "users": ["alice"]])
                    let initial = try await bobOnB.next(type: "presence")
                    #expect(initial["online"] == false)

                    // Alice connects to node A: bob, on node B, sees her come online and type.
                    let aliceOnA = try await hello(alice, port: clientA.port, services: nodeA)
                    let online = try await bobOnB.next(type: "presence")
                    #expect(online["user_id"] == "alice")
                    #expect(online["online"] == true)
                    try aliceOnA.send(["type": "typing", "conversation_id": .string(conversation), "state": "start"])
                    let typing = try await bobOnB.next(type: "typing")
                    #expect(typing["user_id"] == "alice")
                    #expect(typing["conversation_id"] == .string(conversation))

                    // A second connection of hers on node B and then the one on A closing: still online.
                    let aliceOnB = try await hello(alice, port: clientB.port, services: nodeB)
                    aliceOnA.close()
                    // Then her last connection closes: offline, with when she was last seen.
                    try await Task.sleep(for: .milliseconds(300))
                    aliceOnB.close()
                    let offline = try await bobOnB.next(type: "presence")
                    #expect(offline["online"] == false)
                    #expect(offline["last_seen"]?.stringValue != nil)
                    bobOnB.close()
                }
            }
        }
    }
}
