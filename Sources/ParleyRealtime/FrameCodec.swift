import Foundation
import Messaging
import ParleyCore
import ParleyHTTP

/// Encodes server frames and decodes client frames of the v1 WebSocket protocol (docs/protocol.md).
enum FrameCodec {
    /// A server frame: `{"type": type, ...fields}`.
    static func encode(_ type: String, _ fields: [String: JSONValue] = [:]) -> String {
        var object = fields
        object["type"] = .string(type)
        return JSONValue.object(object).jsonString()
    }

    /// `encode("ack", MessagingWire.receipt(receipt) + id)`, byte for byte, written directly: one per message sent
    /// (keys in the writer's sorted order; a test compares the two).
    static func sendAck(_ receipt: SendReceipt, id: Int?) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.appendLiteral(#"{"client_msg_id":"#)
        out.appendJSON(receipt.clientMsgID)
        out.appendLiteral(#","conversation_id":"#)
        out.appendJSON(receipt.conversationID)
        out.appendLiteral(receipt.duplicate ? #","duplicate":true"# : #","duplicate":false"#)
        if let id {
            out.appendLiteral(#","id":"#)
            out.appendJSON(id)
        }
        out.appendLiteral(#","message_id":"#)
        out.appendJSON(receipt.messageID)
        out.appendLiteral(#","seq":"#)
        out.appendJSON(Int(receipt.seq))
        out.appendLiteral(#","ts":"#)
        out.appendJSON(Timestamp.format(receipt.createdAt))
        out.appendLiteral(#","type":"ack"}"#)
        return String(decoding: out, as: UTF8.self)
    }

    static func error(id: Int?, _ error: ParleyError) -> String {
        var fields: [String: JSONValue] = ["code": .string(error.code), "message": .string(error.message)]
        if let id { fields["id"] = .int(id) }
        if !error.details.isEmpty { fields["details"] = .object(error.details) }
        if let retryAfter = error.retryAfter { fields["retry_after"] = .int(retryAfter) }
        return encode("error", fields)
    }

    /// A decoded client frame: its type, its optional request id, and its fields.
    struct ClientFrame {
        let type: String
        let id: Int?
        let fields: [String: JSONValue]

        func string(_ key: String) throws(ParleyError) -> String {
            guard let value = fields[key] else { throw ParleyError.missingField(key) }
            guard case .string(let text) = value else { throw ParleyError.invalidField(key, "expected a string") }
            return text
        }

        func optionalString(_ key: String) throws(ParleyError) -> String? {
            guard let value = fields[key], value != .null else { return nil }
            guard case .string(let text) = value else { throw ParleyError.invalidField(key, "expected a string") }
            return text
        }

        func int(_ key: String) throws(ParleyError) -> Int64 {
            guard let value = fields[key] else { throw ParleyError.missingField(key) }
            guard case .int(let number) = value else { throw ParleyError.invalidField(key, "expected an integer") }
            return Int64(number)
        }

        func optionalInt(_ key: String) throws(ParleyError) -> Int64? {
            guard let value = fields[key], value != .null else { return nil }
            guard case .int(let number) = value else { throw ParleyError.invalidField(key, "expected an integer") }
            return Int64(number)
        }

        func stringArray(_ key: String) throws(ParleyError) -> [String] {
            guard let value = fields[key], value != .null else { return [] }
            guard case .array(let values) = value else { throw ParleyError.invalidField(key, "expected an array of strings") }
            var result: [String] = []
            for element in values {
                guard case .string(let text) = element else { throw ParleyError.invalidField(key, "expected an array of strings") }
                result.append(text)
            }
            return result
        }

        /// Refuses fields the frame type does not define, so typos fail loudly.
        func only(_ allowed: Set<String>) throws(ParleyError) {
            if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) && $0 != "type" && $0 != "id" }) {
                throw ParleyError.unknownField(unknown)
            }
        }
    }

    static func decode(_ text: String) throws(ParleyError) -> ClientFrame {
        guard let value = try? JSONValue(parsing: text), case .object(let object) = value else {
            throw ParleyError(.badRequest, code: "gateway.malformed_frame", message: "A frame is one JSON object with a 'type'.")
        }
        guard case .string(let type)? = object["type"] else {
            throw ParleyError(.badRequest, code: "gateway.malformed_frame", message: "The frame has no string 'type'.")
        }
        var id: Int?
        if let rawID = object["id"], rawID != .null {
            guard case .int(let number) = rawID else { throw ParleyError.invalidField("id", "the request id is an integer") }
            id = number
        }
        return ClientFrame(type: type, id: id, fields: object)
    }
}

/// An `item` frame, encoded once for every recipient: only `user_seq` differs between them, and it is the
/// last key in sorted order, so each recipient's frame is the shared prefix plus its number. The text is
/// exactly what `FrameCodec.encode("item", ...)` writes (sorted keys).
struct ItemFrame {
    private let prefix: String

    /// The bytes `FrameCodec.encode("item", [conversation_id, item, seq, user_seq])` writes (keys sorted), up to the
    /// value of `user_seq`, the last key; written directly rather than through a dictionary (see `MessagingWire.writeItem`).
    init(_ item: Item) {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.appendLiteral(#"{"conversation_id":"#)
        out.appendJSON(item.conversationID)
        out.appendLiteral(#","item":"#)
        MessagingWire.writeItem(item, into: &out)
        out.appendLiteral(#","seq":"#)
        out.appendJSON(Int(item.seq))
        out.appendLiteral(#","type":"item","user_seq":"#)
        prefix = String(decoding: out, as: UTF8.self)
    }

    func text(userSeq: Int64) -> String {
        prefix + String(userSeq) + "}"
    }
}
