import Crypto
import Foundation
import HummingbirdTesting
import Messaging
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Two Parley nodes on one PostgreSQL: a message sent through one reaches a connection on the other.
@Suite(.enabled(if: TestDatabases.postgresURL != nil, "needs PARLEY_TEST_POSTGRES_URL"))
struct TwoNodeTests {
    @Test func aMessageSentOnOneNodeReachesAConnectionOnTheOther() async throws {
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
        }
    }
}
