import Foundation
import ParleyCore
@testable import Messaging
@testable import ParleyHTTP
@testable import ParleyRealtime
import Testing

/// Frames written directly (no dictionary) must be the very bytes the generic writer produces from the wire shape:
/// stored payloads and frames are compared byte for byte, and clients see one item format whichever way it came.
@Suite struct FrameWriterTests {
    static let items: [Item] = [
        Item(conversationID: "c_1", seq: 1, id: "m_1", kind: .text, senderID: "alice", clientMsgID: "x", body: ["text": "hi"],
             replyTo: nil, mentions: [], forwardedFrom: nil, targetID: nil, createdAt: Date(unixMilliseconds: 1_764_000_000_123),
             editedAt: nil, recalledAt: nil),
        Item(conversationID: "c_\"quoted\"\\", seq: 9_007_199_254_740_993, id: "m_2", kind: .custom, senderID: "bob\u{1}\n",
             clientMsgID: nil, body: ["z": .double(1e20), "a": ["nested": [.int(-1), .null, .bool(false)]], "é": "你好 \u{1F600}"],
             replyTo: "m_1", mentions: ["alice", "@all"], forwardedFrom: "m_0", targetID: "m_9",
             createdAt: Date(unixMilliseconds: 0), editedAt: Date(unixMilliseconds: 1_764_000_000_999), recalledAt: Date(),
             reactions: ["👍": ["bob", "alice"], "a": []]),
        Item(conversationID: "", seq: 0, id: "", kind: .recall, senderID: "system", clientMsgID: "", body: [:], replyTo: nil,
             mentions: [""], forwardedFrom: nil, targetID: "m_1", createdAt: Date(unixMilliseconds: -1), editedAt: nil, recalledAt: nil),
    ]

    @Test(arguments: items)
    func theItemWriterMatchesTheGenericWriterByteForByte(item: Item) {
        var direct: [UInt8] = []
        MessagingWire.writeItem(item, into: &direct)
        #expect(String(decoding: direct, as: UTF8.self) == MessagingWire.item(item).jsonString())
    }

    @Test(arguments: items)
    func theItemFrameMatchesTheGenericFrameByteForByte(item: Item) {
        for userSeq: Int64 in [0, 7, Int64(Int32.max) + 5] {
            let generic = FrameCodec.encode("item", [
                "conversation_id": .string(item.conversationID), "seq": .int(Int(item.seq)), "user_seq": .int(Int(userSeq)),
                "item": MessagingWire.item(item),
            ])
            #expect(ItemFrame(item).text(userSeq: userSeq) == generic)
        }
    }

    @Test(arguments: [nil, 0, 42, Int.max] as [Int?])
    func theSendAckMatchesTheGenericFrameByteForByte(id: Int?) {
        let receipts = [
            SendReceipt(conversationID: "c_1", clientMsgID: "x\"y", messageID: "m_1", seq: 3, createdAt: Date(unixMilliseconds: 1_764_000_000_123),
                        duplicate: false),
            SendReceipt(conversationID: "c_é", clientMsgID: nil, messageID: "m_\u{0}", seq: 0, createdAt: Date(unixMilliseconds: 0), duplicate: true),
        ]
        for receipt in receipts {
            guard case .object(var fields) = MessagingWire.receipt(receipt) else { Issue.record("not an object"); return }
            if let id { fields["id"] = .int(id) }
            #expect(FrameCodec.sendAck(receipt, id: id) == FrameCodec.encode("ack", fields))
        }
    }
}
