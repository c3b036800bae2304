import Foundation
@testable import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The message.created event's payload is written directly for speed; it must be the very text the generic event
/// builder writes, since consumers (and webhook receivers) see one shape.
@Suite struct MessageEventPayloadTests {
    static let items: [Item] = [
        Item(conversationID: "c_1", seq: 1, id: "m_1", kind: .text, senderID: "alice", clientMsgID: "x", body: ["text": "hi"],
             replyTo: nil, mentions: [], forwardedFrom: nil, targetID: nil, createdAt: Date(unixMilliseconds: 1_764_000_000_123),
             editedAt: nil, recalledAt: nil),
        Item(conversationID: "c_\"q\"\\\u{1}", seq: 9_007_199_254_740_993, id: "m_é", kind: .custom, senderID: "bob 你好",
             clientMsgID: nil, body: [:], replyTo: "m_1", mentions: ["alice", "@all", ""], forwardedFrom: "m_0", targetID: "m_9",
             createdAt: Date(unixMilliseconds: 0), editedAt: nil, recalledAt: nil),
        Item(conversationID: "c_2", seq: 0, id: "m_3", kind: .location, senderID: "system", clientMsgID: nil, body: ["lat": .double(1.5)],
             replyTo: nil, mentions: ["\u{1F600}"], forwardedFrom: nil, targetID: nil, createdAt: Date(unixMilliseconds: -5),
             editedAt: nil, recalledAt: nil),
    ]

    @Test(arguments: TestDatabases.engines)
    func theWrittenPayloadIsTheGenericOneByteForByte(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            for item in Self.items {
                let direct = fx.service.store.messageCreated(item, actor: "user:alice")
                let generic = fx.service.store.event(for: item, type: "message.created", actor: "user:alice")
                #expect(direct == generic)
                #expect(direct.payloadText == generic.payloadText)
            }
        }
    }
}
